"""What the app sends: one `Answer` (status, header list, body bytes) that every kind of reply becomes.

Error replies, pages, redirects, preflights and whatever a workflow returns are all turned into an
`Answer`; `send_answer` hands it to the WSGI server. No werkzeug `Response` is built on the way: the
header list is the one `start_response` gets. What werkzeug's `Response` did on the way out is kept
here, so replies look exactly as they did: `Content-Length` set from the body, no body for HEAD, 1xx,
204 and 304, no `Content-Length` on 1xx and 204, no entity headers on 304, `Location` and
`Content-Location` made ASCII (`iri_to_uri`), status lines as werkzeug writes them (`418 I'M A TEAPOT`),
and header values holding CR or LF refused.

A werkzeug `Response` a workflow returns is called as a WSGI app (`answer_from_wsgi`), so everything
it does itself (streaming, files, HEAD) still happens; its status and headers become an `Answer`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from werkzeug.http import HTTP_STATUS_CODES, dump_cookie, remove_entity_headers
from werkzeug.urls import iri_to_uri

from epctl.runtime.header_rules import check_cookie_name
from epctl.runtime.mount import cookie_path, site_path
from epctl.schemas.problems import EpctlError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Headers = list[tuple[str, str]]
HeaderSource = Mapping[str, Any] | Iterable[tuple[str, Any]]

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
# What werkzeug's Response sends for a reply without a body of its own (a redirect).
TEXT_TYPE = "text/plain; charset=utf-8"

_NEWLINE = re.compile(r"[\r\n]")
# Status lines as werkzeug writes them; codes outside its table are answered "<code> UNKNOWN".
_STATUS_LINES = {code: f"{code} {phrase.upper()}" for code, phrase in HTTP_STATUS_CODES.items()}


class UnsafeLocationError(EpctlError):
    """A redirect target holding CR or LF: sending it would let the target inject headers."""


class Answer:
    """One reply as it goes to the WSGI server.

    `code` and `status` (the status line) always agree; `headers` are the reply's own headers, before
    CORS and the version's `response_headers` are added (`Content-Length` is added when it is sent);
    `body` is the whole body, or `stream` the iterable of a WSGI app that answered (passed on as is);
    `after`, when set, runs once the server has sent the reply (`run_after_close`).
    """

    __slots__ = ("after", "body", "code", "headers", "status", "stream")

    def __init__(
        self,
        code: int,
        headers: Headers,
        body: bytes = b"",
        *,
        status: str | None = None,
        stream: Iterable[bytes] | None = None,
    ) -> None:
        self.code = code
        self.status = status or _STATUS_LINES.get(code) or f"{code} UNKNOWN"
        self.headers = headers
        self.body = body
        self.stream = stream
        # Work to do once the reply is sent (the workflows behind a static reply): run on close().
        self.after: Callable[[], object] | None = None

    def __repr__(self) -> str:
        return f"<Answer {self.status} {len(self.body) if self.stream is None else 'stream'}>"

    def set_status(self, value: int | str) -> None:
        """Replace the status: an int (or HTTPStatus), or a string read as werkzeug reads it.

        Raises ValueError for an empty string, TypeError or ValueError for what `int()` refuses.
        """
        self.code, self.status = clean_status(value)


def status_line(code: int) -> str:
    """Return werkzeug's status line for `code`: `200 OK`, `418 I'M A TEAPOT`, `599 UNKNOWN`."""
    line = _STATUS_LINES.get(code)
    return line if line is not None else f"{code} UNKNOWN"


def clean_status(value: int | str) -> tuple[int, str]:
    """Return (code, status line) for a status as a workflow may give it, by werkzeug's rules:
    `201` -> `201 CREATED`, `"201"` the same, `"201 Made"` kept as written, `"Made"` -> `0 Made`.

    Raises ValueError for an empty string, and what `int()` raises for a non-numeric non-string.
    """
    if not isinstance(value, str):
        code = int(value)
        return code, status_line(code)
    text = value.strip()
    if not text:
        raise ValueError("Empty status argument")
    code_text, space, _ = text.partition(" ")
    try:
        code = int(code_text)
    except ValueError:
        return 0, f"0 {text}"
    return code, text if space else status_line(code)


# -- building answers -----------------------------------------------------------------------------
def json_answer(value: Any, code: int = 200) -> Answer:
    """Return `value` as a JSON answer; raises TypeError or ValueError when it is not serialisable."""
    return Answer(code, [("Content-Type", JSON_TYPE)], dump_json(value).encode())


def text_answer(text: str | bytes, content_type: str, code: int = 200) -> Answer:
    """Return an answer with `text` (UTF-8 encoded when a str) as the body."""
    body = text.encode() if isinstance(text, str) else text
    return Answer(code, [("Content-Type", content_type)], body)


# The few error bodies the app sends, serialised once.
_ERROR_BODIES: dict[str, bytes] = {}


def error_answer(code: int, message: str) -> Answer:
    """Return the JSON error reply `{"error": message}` with `code`."""
    body = _ERROR_BODIES.get(message)
    if body is None:
        body = _ERROR_BODIES.setdefault(message, dump_json({"error": message}).encode())
    return Answer(code, [("Content-Type", JSON_TYPE)], body)


def redirect_answer(location: str, code: int) -> Answer:
    """Return a redirect to `location`; raises UnsafeLocationError when it holds CR or LF."""
    if "\r" in location or "\n" in location:
        raise UnsafeLocationError(f"refusing a redirect to {location!r}: it holds a line break")
    return Answer(code, [("Content-Type", TEXT_TYPE), ("Location", location)])


def answer_from_wsgi(app: WSGIApplication, environ: WSGIEnvironment) -> Answer:
    """Return the answer of a WSGI app (a werkzeug `Response`) called with `environ`: its status and
    headers as it started them, its iterable as the stream (closed by the server as usual).

    Raises RuntimeError when the app returns without calling `start_response`.
    """
    started: list[Any] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Callable[[bytes], object]:
        started[:] = [status, list(headers)]
        return _refuse_write

    stream = app(environ, start_response)
    if not started:
        raise RuntimeError("the WSGI reply returned without calling start_response")
    code, status = clean_status(started[0])
    return Answer(code, started[1], status=status, stream=stream)


def _refuse_write(data: bytes) -> object:
    raise RuntimeError("a workflow's WSGI reply may not use the legacy write() callable")


# -- headers --------------------------------------------------------------------------------------
def header_value(value: Any) -> str:
    """Return a header value as a str; raises ValueError when it holds CR or LF (header injection)."""
    text = value if isinstance(value, str) else str(value)
    if _NEWLINE.search(text) is not None:
        raise ValueError("Header values must not contain newline characters.")
    return text


def set_header(headers: Headers, name: str, value: Any) -> None:
    """Replace every `name` header (any case) by one, where the first was, else at the end."""
    text = header_value(value)
    lower = name.lower()
    for index, (old, _) in enumerate(headers):
        if old.lower() == lower:
            headers[index] = (name, text)
            headers[index + 1 :] = [item for item in headers[index + 1 :] if item[0].lower() != lower]
            return
    headers.append((name, text))


def apply_headers(headers: Headers, source: HeaderSource | None) -> None:
    """Set headers from a mapping (replacing), or add them from (name, value) pairs (repeatable).

    Raises ValueError for a value holding CR or LF.
    """
    if source is None:
        return
    if isinstance(source, Mapping):
        for name, value in source.items():
            set_header(headers, name, value)
    else:
        for name, value in source:
            headers.append((name, header_value(value)))


def add_vary(headers: Headers, token: str) -> None:
    """Add `token` to the `Vary` header (creating it), unless it is listed already."""
    for index, (name, value) in enumerate(headers):
        if name.lower() == "vary":
            tokens = [item.strip() for item in value.split(",") if item.strip()]
            if token.lower() not in {item.lower() for item in tokens}:
                headers[index] = (name, ", ".join([*tokens, token]))
            return
    headers.append(("Vary", token))


def cookie_header(
    key: str,
    value: str = "",
    max_age: Any = None,
    expires: Any = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: str | None = None,
    partitioned: bool = False,
) -> tuple[str, str]:
    """Return the `Set-Cookie` header werkzeug's `Response.set_cookie` takes these options for.

    Raises TypeError for an option it does not take, ValueError for a bad `samesite`.
    """
    cookie = dump_cookie(
        key,
        value=value,
        max_age=max_age,
        expires=expires,
        path=path,
        domain=domain,
        secure=secure,
        httponly=httponly,
        samesite=samesite,
        partitioned=partitioned,
    )
    return "Set-Cookie", cookie


def add_cookies(headers: Headers, cookies: Mapping[str, Any], *, root: str = "", https: bool = False) -> None:
    """Add a Set-Cookie for each `{name: value}` or `{name: {"value": ..., set_cookie options}}`.

    Defaults: `Path` the environment root (a site-absolute `path` gets the root), HttpOnly,
    SameSite=Lax, Secure when the request came over https; an option the workflow gives wins.
    Raises ValueError for a cookie name that is not an HTTP token, TypeError for an unknown option.
    """
    for name, spec in cookies.items():
        check_cookie_name(name)
        options: dict[str, Any] = {"path": "/", "httponly": True, "samesite": "Lax", "secure": https}
        if isinstance(spec, Mapping):
            options.update((key, value) for key, value in spec.items() if key != "value")
            value = str(spec.get("value", ""))
        else:
            value = str(spec)
        path = options["path"]
        if isinstance(path, str):
            options["path"] = cookie_path(path, root)
        headers.append(cookie_header(name, value, **options))


# -- sending --------------------------------------------------------------------------------------
def send_answer(
    answer: Answer, headers: Headers, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Start the reply with `headers` (the answer's own, then CORS and response headers) and return
    the body for the WSGI server: nothing for HEAD, 1xx, 204 and 304, as werkzeug's Response does."""
    code = answer.code
    if 100 <= code < 200 or code == 204:
        # A server must not send Content-Length with these (RFC 9110, section 8.6).
        headers[:] = [item for item in headers if item[0].lower() != "content-length"]
    elif code == 304:
        remove_entity_headers(headers)
    elif answer.stream is None and not any(name.lower() == "content-length" for name, _ in answer.headers):
        headers.append(("Content-Length", str(len(answer.body))))
    start_response(answer.status, headers)
    bodiless = environ.get("REQUEST_METHOD") == "HEAD" or 100 <= code < 200 or code == 204 or code == 304
    if answer.stream is None:
        return () if bodiless else (answer.body,)
    if bodiless:
        # A streamed reply whose status a workflow changed to one without a body (or HEAD, for which
        # the stream is empty already): it is closed here, since the server never sees it.
        close = getattr(answer.stream, "close", None)
        if close is not None:
            close()
        return ()
    return answer.stream


class ClosingBody:
    """A WSGI body that runs `after` when the server closes it, once the reply is sent (PEP 3333: the
    server calls `close()` on every body, also when sending it failed)."""

    __slots__ = ("_after", "_body")

    def __init__(self, body: Iterable[bytes], after: Callable[[], object]) -> None:
        self._body = body
        self._after: Callable[[], object] | None = after

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            after, self._after = self._after, None
            if after is not None:
                after()


def run_after_close(body: Iterable[bytes], answer: Answer) -> Iterable[bytes]:
    """Return `body`, made to run `answer.after` once sent when the answer has work to do after."""
    if answer.after is None:
        return body
    return ClosingBody(body, answer.after)


def fix_locations(headers: Headers, root: str = "") -> None:
    """Make `Location` and `Content-Location` values ASCII URLs, as werkzeug's Response does; a
    site-relative `Location` stays on the site and gets the environment `root` (see `mount.py`)."""
    for index, (name, value) in enumerate(headers):
        lower = name.lower()
        if lower == "location":
            headers[index] = (name, iri_to_uri(site_path(value, root)))
        elif lower == "content-location":
            headers[index] = (name, iri_to_uri(value))


# -- JSON -----------------------------------------------------------------------------------------
def json_default(value: Any) -> Any:
    """Return a JSON value for a value `json` does not know; raises TypeError for anything else."""
    # Flask's JSON provider covers these, and handlers written for Flask return them.
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder, made once: `json.dumps` with any option set builds a new encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=json_default)
# Even one encoder's `encode` builds the C encoder again on every call (about half its cost for a small
# reply): this one is built once and kept. Without the circular-reference check, which needs a shared
# mutable dict that concurrent threads would trip over: a reply that contains itself fails with a
# RecursionError instead of a ValueError, and either way answers 500.
_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (
    None
    if _make_encoder is None
    # (markers, default, encode str, indent, key separator, item separator, sort_keys, skipkeys, allow_nan)
    else _make_encoder(None, json_default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
)


def dump_json(value: Any) -> str:
    """Return `value` as compact JSON (non-ASCII kept); raises TypeError for what it cannot hold,
    ValueError or RecursionError for a value that contains itself."""
    if _C_ENCODE is None or isinstance(value, str):
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))
