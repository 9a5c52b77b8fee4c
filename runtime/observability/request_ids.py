"""Request ids: the caller's `X-Request-ID` when it is safe to repeat, else a new random one."""

from __future__ import annotations

import os
from collections.abc import Mapping

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"
# Where the request id is left in the environ: `ObservedApp` puts it there; the app's `Request.id`
# reads it (or, unobserved, makes one there), so workflows, templates and the access line agree.
REQUEST_ID_KEY = "epctl.request_id"
# Long enough for a UUID with a prefix or a trace id pair; short enough that a caller cannot make
# every log line of its requests kilobytes long.
MAX_REQUEST_ID_LENGTH = 128


def read_request_id(environ: Mapping[str, object]) -> str:
    """Return the request id of a request: its `X-Request-ID` header when that is 1 to 128 printable
    ASCII characters without spaces, else 32 new random hex digits.

    A kept id is written into log lines and sent back in a header, so anything that could break a
    line, a header or a terminal (controls, spaces, non-ASCII) is replaced, never repaired.
    """
    sent = environ.get(REQUEST_ID_ENVIRON)
    if isinstance(sent, str) and is_safe_request_id(sent):
        return sent
    return new_request_id()


def is_safe_request_id(value: str) -> bool:
    """Return True when `value` is 1 to 128 printable ASCII characters and none is a space."""
    return (
        0 < len(value) <= MAX_REQUEST_ID_LENGTH
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


def new_request_id() -> str:
    """Return a new request id: 128 random bits as 32 lowercase hex digits (a uuid4's entropy)."""
    return os.urandom(16).hex()
