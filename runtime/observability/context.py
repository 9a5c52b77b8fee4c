"""The request being served, as seen by log records: its request id and, once routed, its endpoint id.

A `contextvars` variable rather than a thread-local: each thread of the threaded server and each
gunicorn worker serves one request per context, and code run for the request (workflows, templates)
logs with the right ids without being handed them.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(slots=True)
class RequestContext:
    """The ids a log record of one request carries. `endpoint_id` is None until the request is routed
    to an endpoint (and stays None for not-found, preflight and method-not-allowed answers)."""

    request_id: str
    endpoint_id: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("epctl_request", default=None)


def bind_request(request_id: str) -> tuple[RequestContext, Token[RequestContext | None]]:
    """Make a new context current for the request `request_id`.

    Returns the context (set its `endpoint_id` once routed) and the token that `unbind_request`
    takes when the request is done.
    """
    context = RequestContext(request_id)
    return context, _current.set(context)


def unbind_request(token: Token[RequestContext | None]) -> None:
    """Restore what was current before `bind_request` returned `token`."""
    _current.reset(token)


def current_request() -> RequestContext | None:
    """Return the context of the request being served in this thread, or None outside a request."""
    return _current.get()


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
