"""Request ids: the caller's `X-Request-ID` when it is safe to repeat, else a new unique one."""

from __future__ import annotations

import itertools
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
    ASCII characters without spaces, else a new one (32 lowercase hex digits, see `new_request_id`).

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


# A new id is the next number of this process's counter, which starts at 64 random bits followed by
# 64 zero bits: unique within the process by the count, across processes and hosts by the random bits
# (two of a million processes share them with a chance of about 3e-8), for a fraction of the cost of
# 16 bytes of os.urandom per request, a system call each time. Chosen again in a forked child
# (gunicorn's workers are forked from the process that loaded the app), which would otherwise repeat
# its parent's ids.
_counter = itertools.count()


def seed_request_ids() -> None:
    """Start this process's counter at new random bits: at import, and after a fork."""
    global _counter
    _counter = itertools.count(int.from_bytes(os.urandom(8), "big") << 64)


seed_request_ids()
os.register_at_fork(after_in_child=seed_request_ids)


def new_request_id() -> str:
    """Return a new request id, unique across processes (with the odds above): 32 lowercase hex
    digits, this process's 64 random bits then its count of ids. `next` on the counter is atomic under
    the GIL, so threads never share a number; only after 2**64 ids would the count reach the random
    bits."""
    return next(_counter).to_bytes(16, "big").hex()
