"""The access record of one request, its text and JSON lines, and the access log that writes them.

A record holds what the request was and how it ended: an `AccessRecord`, or anything with the same
fields (`AccessFields`; the observing wrapper's reply is one, so a request builds no second object).
`fields_of`, `json_line` and `text_line` are the only ways a record becomes text, and all redact
credentials from the query. `AccessLog` writes one line per record straight to its stream: the
`logging` machinery (a LogRecord, handler lookup, formatter) costs several times what formatting the
line does, and an access line is written for every request.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from json.encoder import encode_basestring_ascii
from typing import Literal, Protocol, TextIO
from urllib.parse import unquote_plus

from epctl.runtime.observability.flushing import FLUSHER

ACCESS_LOGGER = "epctl.access"
REDACTED = "[redacted]"
# Query names whose values are credentials. epctl reads `authorization` (a user token) and `apikey`;
# the others are what clients commonly send by mistake and must not land in a log either. Names are
# compared percent-decoded and lowercased, since werkzeug decodes `?api%6Bey=` into `apikey`.
CREDENTIAL_QUERY_NAMES = frozenset(
    {"authorization", "apikey", "api_key", "access_token", "token", "password", "secret", "session"}
)
# A path is written at most this long: gunicorn lets a request line reach 4 KiB and werkzeug's server
# more, and one caller must not make every log line that size.
MAX_LOGGED_PATH = 2048

# The largest write(2) that a pipe never splits (POSIX's PIPE_BUF, 4096 on Linux); most lines are
# far shorter.
ATOMIC_WRITE = getattr(select, "PIPE_BUF", 512)

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")


class Outcome(StrEnum):
    """Why a request was answered without running its endpoint; each has its own metric counter."""

    NOT_FOUND = "not-found"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    BODY_TOO_LARGE = "body-too-large"


@dataclass(slots=True)
class AccessRecord:
    """What one request was and how it ended (not frozen only because a frozen dataclass takes three
    times as long to build, and one is built per request: treat it as read-only).

    `time` is when it arrived (seconds since the epoch), `duration` how long it took (seconds).
    `path` is the raw path without the query and `query` the raw query string: credentials in the
    query are redacted when the record becomes text. `route` and `endpoint_id` are None when no
    endpoint matched, `response_bytes` when the length is not known before the body is sent, `user`
    (the token's `sub`) when nobody is signed in, `outcome` when the endpoint ran.
    `workflow_errors` counts the workflows that raised (a request may still be answered by another).
    """

    time: float
    request_id: str
    method: str
    path: str
    query: str
    status: int
    duration: float
    route: str | None = None
    endpoint_id: str | None = None
    response_bytes: int | None = None
    version: str | None = None
    environment: str | None = None
    user: str | None = None
    outcome: Outcome | None = None
    workflow_errors: int = 0

    def to_fields(self) -> dict[str, str | int | float | None]:
        """Return the fields of the JSON line (`fields_of`)."""
        return fields_of(self)

    def to_json(self) -> str:
        """Return the JSON line (`json_line`)."""
        return json_line(self)

    def to_text(self) -> str:
        """Return the text line (`text_line`)."""
        return text_line(self)

    def __str__(self) -> str:
        # A record is logged as the message itself: any formatter that only calls getMessage() still
        # writes a redacted line.
        return text_line(self)


class AccessFields(Protocol):
    """What an access line is made of: the fields of `AccessRecord`."""

    time: float
    request_id: str
    method: str
    path: str
    query: str
    status: int
    duration: float
    route: str | None
    endpoint_id: str | None
    response_bytes: int | None
    version: str | None
    environment: str | None
    user: str | None
    outcome: Outcome | None
    workflow_errors: int


def fields_of(record: AccessFields) -> dict[str, str | int | float | None]:
    """Return the fields of the JSON line, in a fixed order, credentials redacted."""
    return {
        "time": format_time(record.time),
        "level": "INFO",
        "logger": ACCESS_LOGGER,
        "request_id": record.request_id,
        "method": record.method,
        "path": format_path(record.path, record.query),
        "route": record.route,
        "endpoint_id": record.endpoint_id,
        "status": record.status,
        "duration_ms": round(record.duration * 1000, 3),
        "bytes": record.response_bytes,
        "version": record.version,
        "environment": record.environment,
        "user": record.user,
        "outcome": record.outcome.value if record.outcome is not None else None,
        "workflow_errors": record.workflow_errors,
    }


def json_line(record: AccessFields) -> str:
    """Return the JSON line: `json.dumps(fields_of(record))` without the dict and the encoder's
    generic walk (a third of the time), strings escaped by the same C function json uses."""
    # Escaped inline (no helper per field): a Python call per field was a fifth of the line's cost.
    # The route and endpoint id, and the version and environment, repeat on an app's lines: each
    # pair is escaped once, into the fragment of the line it makes. (An f-string: `%` formatting of
    # the same line takes fewer bytecodes but more instructions.)
    enc = encode_basestring_ascii
    user, outcome, size = record.user, record.outcome, record.response_bytes
    route, endpoint_id = record.route, record.endpoint_id
    endpoint = _endpoint_fragments.get((route, endpoint_id)) or remember_fragment(
        _endpoint_fragments, "route", route, "endpoint_id", endpoint_id
    )
    version, environment = record.version, record.environment
    app = _app_fragments.get((version, environment)) or remember_fragment(
        _app_fragments, "version", version, "environment", environment
    )
    return (
        f'{{"time":"{format_time(record.time)}","level":"INFO","logger":"{ACCESS_LOGGER}",'
        f'"request_id":{enc(record.request_id)},"method":{enc(record.method)},'
        f'"path":{enc(format_path(record.path, record.query))},{endpoint}'
        f'"status":{record.status},"duration_ms":{record.duration * 1000:.3f},'
        f'"bytes":{"null" if size is None else size},{app}'
        f'"user":{"null" if user is None else enc(user)},'
        f'"outcome":{"null" if outcome is None else enc(outcome)},'
        f'"workflow_errors":{record.workflow_errors}}}'
    )


def text_line(record: AccessFields) -> str:
    """Return the text line: time, request id, method, path, status, duration, bytes, then the
    known ones of endpoint, route, version, environment, user, outcome, workflow errors as
    `name=value`."""
    parts = [
        format_time(record.time),
        escape_text(record.request_id),
        escape_text(record.method),
        format_path(record.path, record.query),
        str(record.status),
        f"{record.duration * 1000:.1f}ms",
        f"{record.response_bytes}B" if record.response_bytes is not None else "-",
    ]
    for name, value in (
        ("endpoint", record.endpoint_id),
        ("route", record.route),
        ("version", record.version),
        ("env", record.environment),
        ("user", record.user),
        ("outcome", record.outcome),
    ):
        if value is not None:
            parts.append(f"{name}={escape_text(value)}")
    if record.workflow_errors:
        parts.append(f"workflow_errors={record.workflow_errors}")
    return " ".join(parts)


# The formatted second of the last time formatted: (whole seconds, "2026-11-23T09:15:02"). Lines come
# many per second, and strftime is most of format_time's cost. One tuple, swapped whole: thread-safe.
_last_second: tuple[int, str] = (-1, "")
# ".000Z" to ".999Z": formatting the milliseconds each time cost as much as the rest of format_time.
_MILLIS = tuple(f".{millis:03d}Z" for millis in range(1000))


def format_time(seconds: float) -> str:
    """Return `seconds` since the epoch as UTC ISO 8601 with milliseconds: `2026-11-23T09:15:02.041Z`."""
    global _last_second
    # Rounded to the nearest millisecond in integers: `int((s - int(s)) * 1000)` turns .041 into 40.
    whole, millis = divmod(round(seconds * 1000), 1000)
    cached = _last_second
    if cached[0] != whole:
        cached = _last_second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return cached[1] + _MILLIS[millis]


# Fragments of JSON lines by the pair of values they hold: (route, endpoint id), (version,
# environment). An app's lines repeat a few pairs, so each is escaped once; a record may hold any
# values, so each cache is bounded, and forgotten all at once when full.
Fragments = dict[tuple[str | None, str | None], str]
_endpoint_fragments: Fragments = {}
_app_fragments: Fragments = {}
MAX_FRAGMENTS = 1024


def remember_fragment(
    cache: Fragments, first_name: str, first: str | None, second_name: str, second: str | None
) -> str:
    """Return the JSON fragment `"first_name":first,"second_name":second,` and keep it in `cache`
    under the pair of values."""
    fragment = f'"{first_name}":{escape_json(first)},"{second_name}":{escape_json(second)},'
    if len(cache) >= MAX_FRAGMENTS:
        cache.clear()
    cache[(first, second)] = fragment
    return fragment


def escape_json(value: str | None) -> str:
    """Return `value` as a JSON string (ASCII, as json.dumps writes it), None as `null`."""
    return "null" if value is None else encode_basestring_ascii(value)


def format_path(path: str, query: str) -> str:
    """Return `path?query` as it can be logged: credential values redacted, at most 2048 characters,
    and anything but printable non-space ASCII percent-encoded."""
    text = path + "?" + redact_query(query) if query else path
    if len(text) > MAX_LOGGED_PATH:
        text = text[:MAX_LOGGED_PATH] + "..."
    return escape_text(text)


def redact_query(query: str) -> str:
    """Return the query string with the value of every credential parameter replaced by `[redacted]`."""
    parts = query.split("&")
    changed = False
    for index, part in enumerate(parts):
        name, sep, _ = part.partition("=")
        if sep and unquote_plus(name).strip().lower() in CREDENTIAL_QUERY_NAMES:
            parts[index] = f"{name}={REDACTED}"
            changed = True
    return "&".join(parts) if changed else query


def escape_text(value: str) -> str:
    """Return `value` with every character that is not printable ASCII, and every space, as `%XX`
    (UTF-8 bytes): a log line stays one line, and a terminal shows it without interpreting escapes."""
    if value.isascii() and value.isprintable() and " " not in value:
        return value
    return "".join(
        char
        if char.isascii() and char.isprintable() and char != " "
        else "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        for char in value
    )


class AccessLog:
    """Writes one line per access record to `stream` (stderr by default), as text or JSON.

    `buffered`: a stream that is a file or a pipe, not a terminal, gets its lines in batches of up to
    `ATOMIC_WRITE` bytes, written when a batch is full and by the process's flusher (see `flushing`):
    one system call for a dozen lines, where one per line was most of what the line cost under load.
    A reader sees a line at most a tenth of a second late; a process killed outright loses that much.
    """

    def __init__(
        self, log_format: LogFormat = "json", stream: TextIO | None = None, *, buffered: bool = False
    ) -> None:
        self.log_format = log_format
        self._line = json_line if log_format == "json" else text_line
        self.stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()
        # A stream with a file descriptor (stderr, a file) is written with os.write, below Python's
        # buffers, so a line leaves whole even when several processes share the descriptor
        # (gunicorn's workers), and it costs half of write() and flush().
        try:
            self._fd: int | None = self.stream.fileno()
            self.stream.flush()  # what was buffered before must not come out after our lines
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last two
            self._fd = None
        self._batch = (
            held_batch(self._fd) if buffered and self._fd is not None and not os.isatty(self._fd) else None
        )

    def write(self, record: AccessFields) -> None:
        """Write the line of `record`, whole: lines of concurrent threads and processes never
        interleave."""
        line = self._line(record) + "\n"
        try:
            if self._fd is None:
                with self._lock:
                    self.stream.write(line)
                    self.stream.flush()
                return
            data = line.encode("utf-8", "backslashreplace")
            if self._batch is not None:
                self._batch.add(data)
                return
            if len(data) <= ATOMIC_WRITE:
                # One write(2) of at most PIPE_BUF bytes lands whole, on a pipe as on a file (Linux
                # serialises writes to one): no lock, which a thread would otherwise hold across the
                # system call (the GIL released) while the worker's other threads queue up behind it.
                os.write(self._fd, data)
                return
            with self._lock:
                while data:
                    data = data[os.write(self._fd, data) :]
        except (OSError, ValueError):
            # A full disk or a closed stream loses the line; the request was served all the same and
            # must not turn into an error, nor take the worker down.
            pass


class _Batch:
    """The access lines held for one file descriptor: shared by every `AccessLog` of the process that
    writes there (`serve --all` has one per environment), so that lines keep their order."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.lines: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> None:
        """Hold the line `data`; write the batch first when the line would not fit in it."""
        with self.lock:
            if self.size + len(data) > ATOMIC_WRITE:
                self.write()
            self.lines.append(data)
            self.size += len(data)
        if FLUSHER.thread is None:
            FLUSHER.start()

    def flush(self) -> None:
        """Write the lines held (the flusher's call, and at exit). A full disk or a closed stream loses
        them, as a line written at once would be."""
        with self.lock, contextlib.suppress(OSError, ValueError):
            self.write()

    def forget(self) -> None:
        """In a forked child: the lines held are the parent's to write."""
        self.lock = threading.Lock()
        self.lines, self.size = [], 0

    def write(self) -> None:
        """Write the lines held, in one system call when they fit in ATOMIC_WRITE bytes (a batch then
        lands whole, as a line does). Under `lock`, so that batches keep their order."""
        if not self.lines:
            return
        data = b"".join(self.lines)
        self.lines, self.size = [], 0
        while data:
            data = data[os.write(self.fd, data) :]


_batches: dict[int, _Batch] = {}
_batches_lock = threading.Lock()


def held_batch(fd: int) -> _Batch:
    """Return the batch of the lines held for `fd`, the one the flusher writes."""
    with _batches_lock:
        batch = _batches.get(fd)
        if batch is None:
            batch = _batches[fd] = _Batch(fd)
            FLUSHER.register(batch)
        return batch
