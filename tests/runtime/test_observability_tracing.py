"""Tracing with the otel extra: a span per request named by its route, a child span per workflow,
incoming trace context honoured; nothing imported from opentelemetry when tracing is off."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from epctl.runtime.app import create_app
from epctl.runtime.observability.context import note_endpoint
from epctl.runtime.observability.middleware import ObservedApp
from epctl.runtime.observability.tracing import create_tracing, tracing_wanted, workflow_span

SUBPROCESS_SECONDS = 60
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=SUBPROCESS_SECONDS,
    )


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "farm"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_SERVICE_NAME": "farm", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_SERVICE_NAME": "farm", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_LOG_LEVEL": "debug"}, False),  # an OTEL_ variable that asks for no traces
    ],
)
def test_which_variables_ask_for_traces(environ: dict[str, str], wanted: bool) -> None:
    assert tracing_wanted(environ) is wanted


def test_without_otel_variables_nothing_from_opentelemetry_is_imported() -> None:
    result = run_python("""
        import sys
        from werkzeug.test import Client
        from epctl.runtime.observability.middleware import ObservedApp
        from epctl.runtime.observability.tracing import create_tracing, workflow_span

        assert create_tracing("v1") is None
        def app(environ, start_response):
            with workflow_span("w", "w.py:run"):
                start_response("200 OK", [("Content-Length", "0")])
            return []
        Client(ObservedApp(app, tracing=create_tracing("v1"))).get("/")
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def test_an_exporter_that_is_not_installed_turns_tracing_off_with_a_warning() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    result = run_python(
        """
        import logging
        from epctl.runtime.observability.tracing import create_tracing

        logging.basicConfig(format="%(levelname)s %(message)s")
        print(create_tracing("v1"))
        """,
        OTEL_TRACES_EXPORTER="carrier-pigeon",
    )
    assert result.stdout == "None\n"
    assert result.stderr == (
        'WARNING OTEL_TRACES_EXPORTER names "carrier-pigeon", which is not installed (for "otlp": pip '
        "install opentelemetry-exporter-otlp); serving without tracing\n"
    )


def test_the_process_provider_comes_from_the_otel_variables() -> None:
    """OTEL_TRACES_EXPORTER=console: the SDK's console exporter prints the request's span."""
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    result = run_python(
        """
        from werkzeug.test import Client
        from opentelemetry import trace
        from epctl.runtime.observability.context import note_endpoint
        from epctl.runtime.observability.middleware import ObservedApp
        from epctl.runtime.observability.tracing import create_tracing

        def app(environ, start_response):
            note_endpoint("home", "/")
            start_response("200 OK", [("Content-Length", "0")])
            return []
        Client(ObservedApp(app, tracing=create_tracing("v1", "production"))).get("/")
        trace.get_tracer_provider().shutdown()  # flushes the batch
        """,
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="farm",
    )
    assert result.returncode == 0, result.stderr
    assert '"name": "GET /"' in result.stdout
    assert '"service.name": "farm"' in result.stdout


def test_one_request_makes_a_server_span_and_a_span_per_workflow() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = create_tracing("v1.0.0", "production", environ={"OTEL_SERVICE_NAME": "farm"}, provider=provider)
    assert tracing is not None

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        note_endpoint("device", "/devices/{id}")
        with workflow_span("audit", "audit.py:record"):
            pass
        try:
            with workflow_span("devices", "devices.py:show"):
                raise ValueError("no such device")
        except ValueError:
            pass  # the app logs it and answers 500
        start_response("500 Internal Server Error", [("Content-Length", "0")])
        return []

    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    Client(ObservedApp(app, tracing=tracing)).get("/devices/7", headers={"traceparent": traceparent})

    audit, devices, request = exporter.get_finished_spans()
    assert (request.name, request.kind) == ("GET /devices/{id}", SpanKind.SERVER)
    assert dict(request.attributes or {}) == {
        "epctl.version": "v1.0.0",
        "epctl.environment": "production",
        "epctl.endpoint.id": "device",
        "http.request.method": "GET",
        "url.path": "/devices/7",
        "http.route": "/devices/{id}",
        "http.response.status_code": 500,
    }
    assert request.status.status_code is StatusCode.ERROR
    # The incoming traceparent is the request span's parent: one trace across services.
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert request.parent is not None and format(request.parent.span_id, "016x") == PARENT_ID

    assert (audit.name, devices.name) == ("workflow audit", "workflow devices")
    for child in (audit, devices):
        assert child.kind is SpanKind.INTERNAL
        assert child.parent is not None and child.parent.span_id == request.context.span_id
    assert dict(devices.attributes or {}) == {"epctl.workflow": "devices", "code.function": "devices.py:show"}
    assert devices.status.status_code is StatusCode.ERROR
    assert [event.name for event in devices.events] == ["exception"]
    assert audit.status.status_code is StatusCode.UNSET


def test_an_unmatched_request_span_is_named_by_its_method() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = create_tracing("v1", environ={"OTEL_SERVICE_NAME": "farm"}, provider=provider)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("404 Not Found", [("Content-Length", "0")])
        return []

    Client(ObservedApp(app, tracing=tracing)).get("/nowhere")
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET"
    assert span.parent is None  # no traceparent: a new trace
    assert "http.route" not in (span.attributes or {})


def test_the_real_app_makes_the_request_span_and_its_workflow_span(sample: Path, secret: str) -> None:
    """The sample app, observed: the span is named by the matched route, the workflow is its child."""
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = create_tracing("v1.0.0", "production", environ={"OTEL_SERVICE_NAME": "farm"}, provider=provider)
    client = Client(ObservedApp(create_app(sample), tracing=tracing))

    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    headers = {"Authorization": "sample-mobile-key", "traceparent": traceparent}
    assert client.get("/api/devices/tank-1/readings", headers=headers).status_code == 200

    workflow, request = exporter.get_finished_spans()
    assert (request.name, request.kind) == ("GET /api/devices/{deviceId}/readings", SpanKind.SERVER)
    attributes = dict(request.attributes or {})
    assert attributes["epctl.endpoint.id"] == "api-device-readings"
    assert (attributes["epctl.version"], attributes["epctl.environment"]) == ("v1.0.0", "production")
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert workflow.name == "workflow api-device-readings"
    assert workflow.parent is not None and workflow.parent.span_id == request.context.span_id
    assert dict(workflow.attributes or {})["code.function"] == "workflows/devices.py:api_device_readings"
