"""`ObservedApp`: a WSGI app wrapped so that each request has a request id, an access line, its
metrics and its span, in one place.

The wrapped app tells what only it knows (endpoint, route, user, why it refused) through the
`note_*` functions of `context`; everything else (request id, status, duration, bytes) is read here.
An app served without observability is not wrapped at all, and its `note_*` calls find no context.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

from epctl.runtime.observability.access_log import AccessLog
from epctl.runtime.observability.context import RequestContext, bind_context, unbind_request
from epctl.runtime.observability.request_ids import (
    REQUEST_ID_ENVIRON,
    REQUEST_ID_HEADER,
    new_request_id,
    read_request_id,
)
from epctl.runtime.observability.request_ids import REQUEST_ID_KEY as REQUEST_ID_KEY  # re-exported

if TYPE_CHECKING:
    from types import TracebackType

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from epctl.runtime.observability.metrics import Metrics
    from epctl.runtime.observability.tracing import RequestSpan, Tracing

    ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]

log = logging.getLogger("epctl.runtime")

_REQUEST_ID_LOWER = REQUEST_ID_HEADER.lower()
# Reply headers, as epctl writes their names, that are neither Content-Length nor X-Request-ID.
_PASSED_NAMES = frozenset(
    {
        "Content-Type",
        "Access-Control-Allow-Origin",
        "Vary",
        "X-Content-Type-Options",
        "ETag",
        "Cache-Control",
        "Last-Modified",
        "Location",
        "Set-Cookie",
    }
)


class ObservedApp:
    """Wraps `app`: per request, binds a `RequestContext`, sends `X-Request-ID` back, and when the
    reply is done writes its access line (`access_log`), counts it (`metrics`) and ends its span
    (`tracing`); each of the three may be None. `version` and `environment` go into the access line."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        version: str | None = None,
        environment: str | None = None,
        access_log: AccessLog | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.app = app
        if getattr(app, "observed", None) is False:
            # An epctl app (or develop's reloading one): from now on it notes its endpoint, user and
            # outcome for this wrapper, and runs its workflows in spans when there is tracing;
            # unwrapped it skips that work (see `EpctlApp.observed`).
            setattr(app, "observed", True)  # noqa: B010 (the attribute of an app not imported here)
            setattr(app, "traced", tracing is not None)  # noqa: B010
        self.version = version
        self.environment = environment
        self.access_log = access_log
        self.metrics = metrics
        self.tracing = tracing
        self.metrics_failed = False

    def report_metrics_failure(self) -> None:
        """Log a failure to count a request (a full disk under the metrics directory), the first time:
        the request was served, and every request failing alike must not flood the log."""
        if not self.metrics_failed:
            self.metrics_failed = True
            log.exception("counting a request in the metrics failed; later failures are not logged")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        arrived = time.time()
        started = time.perf_counter()
        # Most requests send no X-Request-ID: a new one without the call that checks one.
        sent = environ.get(REQUEST_ID_ENVIRON)
        request_id = environ[REQUEST_ID_KEY] = new_request_id() if sent is None else read_request_id(environ)
        # One object per request: the context the app's notes go to, its start_response, the state
        # of the reply, and at the end the access record (no separate context, closure or record).
        reply = _Reply(self, environ, request_id, start_response, arrived, started)
        token = bind_context(reply)
        span = None
        if self.tracing is not None:
            span = reply.span = self.tracing.start_request(environ)
        try:
            body = self.app(environ, reply)
        except BaseException:
            reply.finish("500", None)
            raise
        finally:
            # The request's context (and span) is current while the app runs, which is when workflows
            # log and start spans of their own; a streamed body may be sent and closed elsewhere.
            unbind_request(token)
            if span is not None:
                span.leave()
        length = reply.length
        if length is not None and length.isdecimal():
            # The common case, a buffered reply: done now, and the body goes out untouched.
            reply.finish(reply.status_line, int(length))
            return body
        # No Content-Length (or nonsense): the length is what is sent.
        return _CountedBody(body, reply)


class _Reply(RequestContext):
    """One request as the wrapper keeps it: its context (what the app notes), the app's start_response,
    what is known of the reply, its single `finish`, and then its access record (`AccessFields`): the
    access log and the metrics read it as it is. Its fields do not change once it is finished."""

    __slots__ = (
        "duration",
        "environ",
        "environment",
        "finished",
        "length",
        "method",
        "observed",
        "path",
        "query",
        "response_bytes",
        "span",
        "start_response",
        "started",
        "status",
        "status_line",
        "time",
        "version",
    )

    def __init__(
        self,
        observed: ObservedApp,
        environ: WSGIEnvironment,
        request_id: str,
        start_response: StartResponse,
        arrived: float,
        started: float,
    ) -> None:
        # RequestContext's fields, set here rather than by its __init__: a call fewer per request.
        self.request_id = request_id
        self.endpoint_id = None
        self.route = None
        self.user = None
        self.outcome = None
        self.workflow_errors = 0
        self.tracing = observed.tracing
        self.observed = observed
        self.environ = environ
        self.start_response = start_response
        self.time = arrived
        self.started = started
        self.span: RequestSpan | None = None
        self.status_line = "500"  # until the app starts a response: an app that never does has failed
        self.length: str | None = None  # the Content-Length the app sent
        self.finished = False

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        """The start_response the app is given: sends `X-Request-ID` back unless the app set one, and
        notes the Content-Length."""
        # A plain loop: a reply has a handful of headers, and building a dict of lowercased names
        # (map, zip, dict) cost five times as much. The names epctl's own replies carry are passed
        # over without lowercasing them.
        length = None
        sent_id = False
        for name, value in headers:
            if name in _PASSED_NAMES:
                continue
            if name == "Content-Length":
                length = value
                continue
            lower = name.lower()
            if lower == "content-length":
                length = value
            elif lower == _REQUEST_ID_LOWER:
                sent_id = True
        if not sent_id:
            headers.append((REQUEST_ID_HEADER, self.request_id))
        self.length = length
        self.status_line = status
        return self.start_response(status, headers, exc_info)

    def add_workflow_error(self) -> None:
        """Count one workflow that raised: in the access line and metrics to come, or, for the
        workflows behind a static reply (they run once the reply is sent, its line written), straight
        into the metrics."""
        if not self.finished:
            self.workflow_errors += 1
            return
        metrics = self.observed.metrics
        if metrics is not None:
            try:
                metrics.count_workflow_errors(self.endpoint_id or "", 1)
            except Exception:
                self.observed.report_metrics_failure()

    def finish(self, status_line: str, response_bytes: int | None) -> None:
        """End the request's span, count the request and write its access line, once."""
        if self.finished:
            return
        self.finished = True
        observed, span = self.observed, self.span
        metrics, access_log = observed.metrics, observed.access_log
        if span is None and metrics is None and access_log is None:
            return
        environ = self.environ
        status = _STATUS_CODES.get(status_line) or read_status_code(status_line)
        self.status = status
        method = self.method = str(environ.get("REQUEST_METHOD", ""))
        if span is not None:
            span.finish(method=method, status=status, route=self.route, endpoint_id=self.endpoint_id)
        if metrics is None and access_log is None:
            return
        # The rest of the access record.
        self.duration = time.perf_counter() - self.started
        self.path = read_path(environ)
        self.query = environ.get("QUERY_STRING") or ""
        self.response_bytes = response_bytes
        self.version = observed.version
        self.environment = observed.environment
        if metrics is not None:
            try:
                metrics.observe(self)
            except Exception:
                observed.report_metrics_failure()
        if access_log is not None:
            access_log.write(self)


class _CountedBody:
    """A reply body of unknown length: counts the bytes sent and finishes the request on `close`, as
    WSGI servers call it when the reply is done (or the client went away)."""

    def __init__(self, body: Iterable[bytes], reply: _Reply) -> None:
        self.body = body
        self.reply = reply
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.reply.finish(self.reply.status_line, self.sent)


def read_status_code(status_line: str) -> int:
    """Return the code of a WSGI status line ('200 OK' -> 200), 500 for one that has none; the lines
    an app sends again and again are kept."""
    code = int(status_line[:3]) if status_line[:3].isdecimal() else 500
    if len(_STATUS_CODES) < MAX_STATUS_LINES:
        _STATUS_CODES[status_line] = code
    return code


# The status lines seen, by their code: an app sends a few, and a caller cannot add to them (bounded
# all the same, for an app that makes up reason phrases).
_STATUS_CODES: dict[str, int] = {}
MAX_STATUS_LINES = 256


def read_path(environ: WSGIEnvironment) -> str:
    """Return the request path as the client sent it (percent-encoded, no query)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        return raw.partition("?")[0]
    # WSGI strings hold the path's bytes as latin-1 characters: quote those bytes again.
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return quote(path.encode("latin-1", "replace"), safe="/%!$&'()*+,;=:@~")
