"""The one request value: read from the WSGI environ once, handed as it is to access checks, the
render context and workflow handlers.

What costs something to read (headers, cookies, the query, the body) is read on first use and kept,
so an API call that never looks at its cookies never parses them.
"""

from __future__ import annotations

import codecs
import io
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401 (registers the "werkzeug.url_quote" codec error handler)
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import parse_form_data
from werkzeug.http import parse_cookie, parse_options_header
from werkzeug.wsgi import get_content_length, get_input_stream

from epctl.runtime.mount import site_path, strip_root
from epctl.runtime.observability.request_ids import REQUEST_ID_KEY, read_request_id
from epctl.schemas.problems import EpctlError

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from epctl.runtime.sessions import Sessions
    from epctl.runtime.users import UserStore

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_NOT_READ: Any = object()


class BadBodyError(EpctlError):
    """A request body that cannot be read as what it says it is: the request is answered 400."""


class BodyTooLargeError(EpctlError):
    """A request body over `max_body_size`, or a form of too many parts: the request is answered 413."""


# Deeper JSON is refused (400): nothing a workflow does needs more, and walking deeper values
# (copying, serialising them back) is where Python's recursion limit would answer 500.
MAX_JSON_DEPTH = 64
# hapi's and werkzeug's own default: a multipart form of more parts is refused (413).
MAX_FORM_PARTS = 1000
# Charsets a text body is never decoded with: not text encodings of the web, or decoders that raise
# instead of replacing what they cannot read.
_REFUSED_CHARSETS = frozenset({"idna", "punycode"})
# A body of unknown length is read in pieces of this size.
_READ_SIZE = 64 * 1024


class _Unreadable:
    """A body that was read and did not parse: what `Request.body` raises again."""

    __slots__ = ("error",)

    def __init__(self, error: BadBodyError) -> None:
        self.error = error


class HeaderDict(dict[str, str]):
    """Request headers under lowercase names, looked up case-insensitively (`headers["User-Agent"]`)."""

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name.lower() if isinstance(name, str) else name)

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class EndpointInfo:
    """The endpoint a request reached, as handlers and templates see it: id, route and tags."""

    __slots__ = ("id", "route", "tags")

    def __init__(self, id: str, route: str, tags: Mapping[str, str]) -> None:
        self.id = id
        self.route = route
        self.tags = tags

    def __repr__(self) -> str:
        return f"<EndpointInfo {self.id} {self.route}>"


class Request:
    """One request to one version: the argument of every workflow handler, and `request` in templates.

    `method`, `path` (decoded, as werkzeug gives it, below the environment `root`), `params` (route
    params), `headers`, `cookies`,
    `query` (last value of a repeated name wins), `body` (parsed JSON, form fields, text, or None),
    `user` (the token's claims or None), `endpoint`, `version`, `globals`, `time`, `id` (the request
    id of the access log and the `X-Request-ID` reply header), `root` (the environment root, "" for
    none), `url(path)`, and `users` (the users store, when epctl.toml has a `[users]` table).
    """

    __slots__ = (
        "_body",
        "_cookies",
        "_headers",
        "_path",
        "_query",
        "_sessions",
        "_time",
        "endpoint",
        "environ",
        "globals",
        "method",
        "params",
        "root",
        "user",
        "version",
    )

    def __init__(
        self,
        environ: WSGIEnvironment,
        version: str,
        globals: Mapping[str, Any],
        sessions: Sessions | None = None,
        root: str = "",
        *,
        time: datetime | None = None,
        params: dict[str, str] | None = None,
        endpoint: EndpointInfo | None = None,
    ) -> None:
        # The app passes the first five by position: bound as keywords they cost 2.4 K instructions a
        # request, two thirds as much again as the whole call.
        self.environ = environ
        self._sessions = sessions
        # The environment root the app is mounted at ("" for none): `path` is below it, `url` adds it.
        self.root = root
        method: str = environ.get("REQUEST_METHOD", "GET")
        # Servers send the method as the client wrote it; upper() only when it is not already.
        self.method = method if method.isupper() else method.upper()
        self.params: dict[str, str] = params if params is not None else {}
        self.endpoint = endpoint
        self.user: dict[str, Any] | None = None
        self.version = version
        self.globals = globals
        # Read on first use, like the rest: most API replies never look at the path text or the time.
        self._time = time
        self._path: str | None = None
        self._headers: HeaderDict | None = None
        self._cookies: dict[str, str] | None = None
        self._query: dict[str, str] | None = None
        self._body: Any = _NOT_READ

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"

    @property
    def path(self) -> str:
        """The decoded request path (`/devices/a b`), as werkzeug's `Request.path` gives it."""
        if self._path is None:
            # WSGI strings are bytes decoded as latin-1: decode them as the UTF-8 they were sent as.
            raw = self.environ.get("PATH_INFO", "")
            if not raw.isascii():
                raw = raw.encode("latin-1", "replace").decode("utf-8", "replace")
            path = "/" + raw.lstrip("/")
            if self.root:
                path = strip_root(path, self.root) or path
            self._path = path
        return self._path

    def url(self, path: str) -> str:
        """Return the site path of the app path `path` (`/devices` -> `/fleet/devices` under the
        root `/fleet`); a URL that is not site-absolute is returned as it is."""
        return site_path(path, self.root)

    @property
    def users(self) -> UserStore:
        """The project's users store (opened on first use in each worker process).

        Raises RuntimeError when the project has no `[users]` table.
        """
        if self._sessions is None:
            raise RuntimeError(
                'request.users needs experience users: add a line `[users]` to epctl.toml (README "Users")'
            )
        return self._sessions.store

    @property
    def id(self) -> str:
        """The request id: the one the access line and `X-Request-ID` carry when the app is observed,
        else the caller's safe `X-Request-ID` or a new one, the same for the whole request."""
        request_id = self.environ.get(REQUEST_ID_KEY)
        if request_id is None:
            request_id = self.environ[REQUEST_ID_KEY] = read_request_id(self.environ)
        return str(request_id)

    @property
    def time(self) -> datetime:
        """When the request is served (UTC): taken the first time anything asks, then kept."""
        if self._time is None:
            self._time = datetime.now(UTC)
        return self._time

    @property
    def headers(self) -> HeaderDict:
        if self._headers is None:
            self._headers = read_headers(self.environ)
        return self._headers

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            header = self.environ.get("HTTP_COOKIE")
            self._cookies = parse_cookie(header).to_dict() if header else {}
        return self._cookies

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            text = self.environ.get("QUERY_STRING", "")
            self._query = read_query(text) if text else {}
        return self._query

    @property
    def body(self) -> Any:
        """The parsed body; raises BadBodyError when a JSON body does not parse."""
        if self._body is _NOT_READ:
            self._body = read_body(self.environ)
        if isinstance(self._body, _Unreadable):
            raise self._body.error
        return self._body

    def read_body(self, max_size: int | None) -> Any:
        """Read and keep the body, at most `max_size` bytes, and return it.

        Raises BodyTooLargeError past `max_size` bytes or MAX_FORM_PARTS form parts, BadBodyError for
        a body that is not what its content type says.
        """
        if self._body is _NOT_READ:
            try:
                self._body = read_body(self.environ, max_size)
            except BadBodyError as err:
                # The stream is read: `body` raises the same error again rather than read nothing.
                self._body = _Unreadable(err)
                raise
        return self.body


def read_headers(environ: WSGIEnvironment) -> HeaderDict:
    """Return the request headers under lowercase names, read straight from the WSGI environ."""
    headers = HeaderDict()
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def read_query(text: str) -> dict[str, str]:
    """Return the query string's fields, the last value of a repeated name winning; invalid UTF-8
    stays percent-encoded, as werkzeug's `Request.args` leaves it."""
    if text.isascii() and "%" not in text and "+" not in text:
        # Nothing to decode (most queries: `?page=2&sort=name`): split as parse_qsl does, an empty
        # field skipped, a field without `=` a name with an empty value.
        fields: dict[str, str] = {}
        for field in text.split("&"):
            if field:
                name, _, value = field.partition("=")
                fields[name] = value
        return fields
    decoded = text.encode("latin-1", "replace").decode("utf-8", "replace")
    return dict(parse_qsl(decoded, keep_blank_values=True, errors="werkzeug.url_quote"))


def has_body(environ: WSGIEnvironment) -> bool:
    """Return whether the request says it sends a body: a Content-Length other than 0, or chunked."""
    return environ.get("CONTENT_LENGTH", "") not in ("", "0") or "chunked" in environ.get(
        "HTTP_TRANSFER_ENCODING", ""
    )


def read_body(environ: WSGIEnvironment, max_size: int | None = None) -> Any:
    """Return the request body for a workflow: parsed JSON for JSON content types, a dict of fields
    (last value wins) for form posts, text for any other non-empty body, None for an empty one.

    Never more than `max_size` + 1 bytes are read (`read_bounded`). Raises BodyTooLargeError past
    `max_size` or past MAX_FORM_PARTS form parts; BadBodyError when a JSON body does not parse or is
    nested deeper than MAX_JSON_DEPTH, or the charset is not one a text body can be read in.
    """
    if not has_body(environ):
        return None  # skip parsing a content type and reading the stream (most GETs)
    mimetype, options = parse_options_header(environ.get("CONTENT_TYPE", ""))
    mimetype = mimetype.lower()
    data = read_bounded(environ, max_size)
    if mimetype in _FORM_TYPES:
        # The form parser reads the bytes already read, with their length now known.
        form_environ = {**environ, "wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data))}
        form_environ.pop("wsgi.input_terminated", None)
        try:
            _, form, _ = parse_form_data(form_environ, max_form_parts=MAX_FORM_PARTS, silent=False)
        except RequestEntityTooLarge:
            raise BodyTooLargeError(f"the form has more than {MAX_FORM_PARTS} parts") from None
        except ValueError as err:  # a malformed multipart body
            raise BadBodyError(f"the form body does not parse: {err}") from None
        return {name: values[-1] for name, values in form.lists()}
    if not data:
        return None
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return read_json(data)
    return decode_text(data, options.get("charset", "utf-8"))


def read_bounded(environ: WSGIEnvironment, max_size: int | None) -> bytes:
    """Return the request body's bytes, never reading more than `max_size` + 1 of them.

    Raises BodyTooLargeError when `Content-Length` says more than `max_size` (nothing is read), or a
    body of unknown length (chunked) goes past it. A body of unknown length is read only when the
    server says it ends the stream (`wsgi.input_terminated`); otherwise it is empty, as werkzeug has it.
    """
    length = get_content_length(environ)
    if length is not None:
        if max_size is not None and length > max_size:
            raise BodyTooLargeError("the request body is larger than max_body_size allows")
        return get_input_stream(environ).read()
    if "wsgi.input_terminated" not in environ:
        return b""
    stream = environ["wsgi.input"]
    limit = sys.maxsize if max_size is None else max_size
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(_READ_SIZE, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise BodyTooLargeError("the request body is larger than max_body_size allows")
        chunks.append(chunk)


def read_json(data: bytes) -> Any:
    """Return the JSON value of `data`; raises BadBodyError when it does not parse or is nested
    deeper than MAX_JSON_DEPTH."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise BadBodyError(f"the JSON body does not parse: {err}") from None
    # Iteratively, so the check itself cannot hit the recursion limit.
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadBodyError(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return value


def decode_text(data: bytes, charset: str) -> str:
    """Return `data` decoded as `charset` (UTF-8 for a name Python does not know), undecodable bytes
    replaced; raises BadBodyError for a codec that is no text encoding of the web (`idna`, `rot13`)."""
    try:
        info = codecs.lookup(charset)
    except LookupError:  # an unknown charset name: UTF-8 is what the rest of the web sends
        return data.decode("utf-8", "replace")
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CHARSETS:
        raise BadBodyError(f'the body\'s charset "{charset}" is not a text encoding epctl reads')
    try:
        return data.decode(info.name, "replace")
    except (UnicodeError, TypeError, ValueError) as err:
        raise BadBodyError(f'the body does not decode as "{charset}": {err}') from None
