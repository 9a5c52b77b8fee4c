"""OpenTelemetry spans of epctl requests (the `otel` extra). Imported only by `tracing.create_tracing`.

Span names and attributes follow OpenTelemetry's HTTP semantic conventions: a server span named
`{method} {route template}` (only `{method}` when no route matched) with `http.request.method`,
`url.path`, `http.route` and `http.response.status_code`, plus `epctl.endpoint.id`, `epctl.version`
and `epctl.environment`; each workflow is an internal child span `workflow {name}`. The incoming
trace context is read with the configured propagators (W3C `traceparent` by default).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from contextvars import Token
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

log = logging.getLogger("epctl.runtime")

TRACER_NAME = "epctl"
EXPORTER_ENTRY_POINTS = "opentelemetry_traces_exporter"

_provider_lock = threading.Lock()


class EnvironGetter(Getter["WSGIEnvironment"]):
    """Reads propagation headers (`traceparent`, `tracestate`, `baggage`) from a WSGI environ."""

    def get(self, carrier: WSGIEnvironment, key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: WSGIEnvironment) -> list[str]:
        return [key[5:].lower().replace("_", "-") for key in carrier if key.startswith("HTTP_")]


_getter = EnvironGetter()


class OtelRequestSpan:
    """The server span of one request, current from its start until `leave`, ended by `finish`."""

    def __init__(self, span: trace.Span, token: Token[Context]) -> None:
        self.span = span
        self.token = token

    def leave(self) -> None:
        otel_context.detach(self.token)

    def finish(self, *, method: str, status: int, route: str | None, endpoint_id: str | None) -> None:
        span = self.span
        if route is not None:
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
        if endpoint_id is not None:
            span.set_attribute("epctl.endpoint.id", endpoint_id)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            # Server spans are errors for 5xx only: a 4xx is the client's mistake, not the server's.
            span.set_status(Status(StatusCode.ERROR))
        span.end()


class OtelTracing:
    """Starts request and workflow spans on one tracer, with the app's version and environment."""

    def __init__(self, tracer: trace.Tracer, version: str, environment: str) -> None:
        self.tracer = tracer
        self.attributes = {"epctl.version": version, "epctl.environment": environment}

    def start_request(self, environ: WSGIEnvironment) -> OtelRequestSpan:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        parent = propagate.extract(environ, getter=_getter)
        span = self.tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                **self.attributes,
                "http.request.method": method,
                "url.path": str(environ.get("PATH_INFO", "")),
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        return OtelRequestSpan(span, token)

    def workflow_span(self, workflow: str, handler: str) -> AbstractContextManager[object]:
        return self.tracer.start_as_current_span(
            f"workflow {workflow}",
            kind=SpanKind.INTERNAL,
            attributes={"epctl.workflow": workflow, "code.function": handler},
        )


def create_otel_tracing(
    version: str,
    environment: str,
    *,
    environ: Mapping[str, str] | None = None,
    provider: TracerProvider | None = None,
) -> OtelTracing | None:
    """Return the tracing of an app, on `provider` or the process's provider; None, logged, when the
    exporter named by OTEL_TRACES_EXPORTER is not installed."""
    if provider is None:
        found = process_provider(os.environ if environ is None else environ)
        if found is None:
            return None
        tracer = found.get_tracer(TRACER_NAME)
    else:
        tracer = provider.get_tracer(TRACER_NAME)
    return OtelTracing(tracer, version, environment)


def process_provider(environ: Mapping[str, str]) -> trace.TracerProvider | None:
    """Return the process's tracer provider: the one already set (by `opentelemetry-instrument` or the
    application), else a new SDK provider exporting where OTEL_TRACES_EXPORTER says (default `otlp`),
    set as the process's so spans the workflows start join the same traces. None, logged, when an
    exporter is not installed."""
    with _provider_lock:
        current = trace.get_tracer_provider()
        if not isinstance(current, trace.ProxyTracerProvider):
            return current
        names = [name.strip() for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
        exporters = load_exporters(name for name in names if name)
        if exporters is None:
            return None
        # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
        provider = TracerProvider(resource=Resource.create())
        for exporter in exporters:
            # Batched: exporting runs in the SDK's thread, never in a request (the SDK restarts that
            # thread in each forked gunicorn worker).
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        return provider


def load_exporters(names: Iterable[str]) -> list[SpanExporter] | None:
    """Return an exporter for each name, found the way the SDK finds them (the entry points of
    installed exporter packages: `console` comes with the SDK, `otlp` with opentelemetry-exporter-otlp);
    None, logged, when one is not installed."""
    exporters: list[SpanExporter] = []
    for name in names:
        found = list(entry_points(group=EXPORTER_ENTRY_POINTS, name=name))
        if not found:
            log.warning(
                'OTEL_TRACES_EXPORTER names "%s", which is not installed (for "otlp": pip install '
                "opentelemetry-exporter-otlp); serving without tracing",
                name,
            )
            return None
        exporters.append(found[0].load()())
    return exporters
