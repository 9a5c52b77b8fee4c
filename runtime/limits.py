"""What one request may cost: the body size limit (`[settings] max_body_size`) and read-only globals.

README "Reliability" lists every limit with its default. A body over the limit is answered 413
before it is read when it says its length, and is cut off at the limit when it is chunked; the
server discards the unread rest (werkzeug's and gunicorn's servers read it without keeping it).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from epctl.runtime.answers import Answer, error_answer
from epctl.runtime.request import BadBodyError, BodyTooLargeError, Request

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class RequestLimits:
    """The body limit of one app, in bytes."""

    __slots__ = ("max_body_size",)

    def __init__(self, max_body_size: int) -> None:
        self.max_body_size = max_body_size

    def check_length(self, environ: WSGIEnvironment) -> Answer | None:
        """Return the 413 answer when the request says its body is over the limit, else None; a
        body that is not read is never refused."""
        length = environ.get("CONTENT_LENGTH")
        if not length:
            return None
        try:
            too_large = int(length) > self.max_body_size
        except ValueError:
            return error_answer(400, "Bad request")
        return too_large_answer() if too_large else None

    def read_body(self, request: Request) -> Answer | None:
        """Read the request's body within the limit: return the 413 answer when it is too large, else
        None. A body that does not parse is left to its readers (`Request.body` raises BadBodyError)."""
        try:
            request.read_body(self.max_body_size)
        except BodyTooLargeError:
            return too_large_answer()
        except BadBodyError:
            return None
        return None


def too_large_answer() -> Answer:
    """Return the 413 answer (a WSGI app may not set `Connection`: the server manages it)."""
    return error_answer(413, "Request body too large")


def freeze(value: Any) -> Any:
    """Return `value` read-only all the way down: mappings as read-only mappings, lists as tuples.

    `globals` are shared by every request of an app; frozen, a workflow cannot change what the next
    request sees (it gets a TypeError or AttributeError instead).
    """
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    if isinstance(value, set | frozenset):
        return frozenset(freeze(item) for item in value)
    return value
