"""The request being served: its request id and what the app learns while serving it.

A `contextvars` variable rather than a thread-local: each thread of the threaded server and each
gunicorn worker serves one request per context, so code run for the request (the app, workflows,
templates, log calls) reaches it without being handed it. `ObservedApp` binds a context per request;
the app fills it in with the `note_*` functions, which do nothing when no context is bound (the app
served without observability), so those hooks cost one variable read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING

from epctl.runtime.observability.access_log import Outcome

if TYPE_CHECKING:
    from epctl.runtime.observability.tracing import Tracing


@dataclass(slots=True)
class RequestContext:
    """What the access line, the metrics and every log record of one request carry.

    `endpoint_id` and `route` stay None when no endpoint matched (not found, preflight, method not
    allowed); `user` is the signed-in user's `sub`; `outcome` says why the endpoint did not run;
    `workflow_errors` counts the workflows that raised; `tracing` is set when spans are recorded.

    `ObservedApp` binds a subclass of its own that sets each of these fields in its `__init__`: a field
    added here is added there too.
    """

    request_id: str
    endpoint_id: str | None = None
    route: str | None = None
    user: str | None = None
    outcome: Outcome | None = None
    workflow_errors: int = 0
    tracing: Tracing | None = None

    def add_workflow_error(self) -> None:
        """Count one workflow of the request that raised."""
        self.workflow_errors += 1


_current: ContextVar[RequestContext | None] = ContextVar("epctl_request", default=None)


def bind_request(request_id: str) -> tuple[RequestContext, Token[RequestContext | None]]:
    """Make a new context current for the request `request_id`.

    Returns the context and the token that `unbind_request` takes when the request is done.
    """
    context = RequestContext(request_id)
    return context, _current.set(context)


# `bind_context(context)` makes `context` current and returns the token for `unbind_request`, which
# restores what was current before `bind_request` or `bind_context` returned it. Both are the
# variable's own methods, not Python functions around them: `ObservedApp` calls them every request.
bind_context: Callable[[RequestContext], Token[RequestContext | None]] = _current.set
unbind_request: Callable[[Token[RequestContext | None]], None] = _current.reset


def current_request() -> RequestContext | None:
    """Return the context of the request being served in this thread, or None outside a request."""
    return _current.get()


def note_endpoint(endpoint_id: str, route: str) -> None:
    """Record the endpoint the request was routed to and its route template."""
    context = _current.get()
    if context is not None:
        context.endpoint_id = endpoint_id
        context.route = route


def note_user(sub: str | None) -> None:
    """Record the `sub` of the signed-in user (None: nobody signed in)."""
    context = _current.get()
    if context is not None:
        context.user = sub


def note_outcome(outcome: Outcome) -> None:
    """Record why the request was answered without running its endpoint."""
    context = _current.get()
    if context is not None:
        context.outcome = outcome


def note_workflow_error() -> None:
    """Count one workflow of the request that raised."""
    context = _current.get()
    if context is not None:
        context.add_workflow_error()


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `endpoint_id` (None outside a request) to every record it sees.

    Attach it to a handler, not a logger: a logger's filters see only the records logged on that
    very logger, a handler's see the records of every logger below it too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        record.request_id = context.request_id if context is not None else None
        record.endpoint_id = context.endpoint_id if context is not None else None
        return True
