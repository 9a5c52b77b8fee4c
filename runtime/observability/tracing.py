"""OpenTelemetry tracing, with the `otel` extra: a span per request and a child span per workflow.

Off unless the extra is installed and the standard `OTEL_*` variables ask for traces; when off,
nothing from `opentelemetry` is imported and `create_tracing` returns None. The implementation is in
`otel`, imported only once tracing is wanted; this module holds what the rest of epctl calls.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from epctl.runtime.observability.context import current_request

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger("epctl.runtime")

# Any of these says the deployment collects traces (the variables of OpenTelemetry's SDK).
WANTING_VARIABLES = (
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_RESOURCE_ATTRIBUTES",
)
_NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()


class RequestSpan(Protocol):
    """The span of one request, started before routing and ended with the reply."""

    def leave(self) -> None:
        """Stop the span being current: the app returned (a streamed body may still be sending)."""

    def finish(self, *, method: str, status: int, route: str | None, endpoint_id: str | None) -> None:
        """Name the span by its route, set the status and endpoint id, and end it."""


class Tracing(Protocol):
    """Starts the spans of one app (one version in one environment)."""

    def start_request(self, environ: WSGIEnvironment) -> RequestSpan:
        """Start the span of the request in `environ` (continuing an incoming `traceparent`) and make it
        current, so workflow spans and spans the workflows start themselves are its children."""

    def workflow_span(self, workflow: str, handler: str) -> AbstractContextManager[object]:
        """Return a context manager around one workflow call: a child span that records an exception."""


def tracing_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Return True when the `OTEL_*` variables ask for traces: one of WANTING_VARIABLES is set, the SDK
    is not disabled (`OTEL_SDK_DISABLED=true`) and the traces exporter is not `none`."""
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(environ.get(name) for name in WANTING_VARIABLES)


def create_tracing(
    version: str,
    environment: str = "",
    *,
    environ: Mapping[str, str] | None = None,
    provider: TracerProvider | None = None,
) -> Tracing | None:
    """Return the tracing of an app serving `version` in `environment`, or None when tracing is off.

    Off when the `OTEL_*` variables do not ask for traces (see `tracing_wanted`), and, logged as a
    warning, when the `otel` extra is not installed or the traces exporter they name is not. Spans go
    to `provider` when given (tests), else to the process's tracer provider, which is set up from the
    `OTEL_*` variables the first time.
    """
    if not tracing_wanted(environ):
        return None
    try:
        from epctl.runtime.observability import otel
    except ImportError as err:
        log.warning(
            "OTEL_* variables ask for traces but the otel extra is not installed (%s): "
            "pip install 'epctl[otel]'; serving without tracing",
            err,
        )
        return None
    return otel.create_otel_tracing(version, environment, environ=environ, provider=provider)


def workflow_span(workflow: str, handler: str) -> AbstractContextManager[object]:
    """Return a context manager to run one workflow in: its span when the request is traced, else one
    that does nothing (the same object every time, so an untraced request allocates nothing)."""
    context = current_request()
    if context is None or context.tracing is None:
        return _NO_SPAN
    return context.tracing.workflow_span(workflow, handler)
