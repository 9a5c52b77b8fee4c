"""The one request value: read from the WSGI environ once, handed as it is to access checks, the
render context and workflow handlers.

What costs something to read (headers, cookies, the query, the body) is read on first use and kept,
so an API call that never looks at its cookies never parses them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401 (registers the "werkzeug.url_quote" codec error handler)
from werkzeug.formparser import parse_form_data
from werkzeug.http import parse_cookie, parse_options_header
from werkzeug.wsgi import get_input_stream

from epctl.runtime.observability.request_ids import REQUEST_ID_KEY, read_request_id
from epctl.schemas.problems import EpctlError

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_NOT_READ: Any = object()


class BadBodyError(EpctlError):
    """A request body that says it is JSON but is not: the request is answered 400."""


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

    `method`, `path` (decoded, as werkzeug gives it), `params` (route params), `headers`, `cookies`,
    `query` (last value of a repeated name wins), `body` (parsed JSON, form fields, text, or None),
    `user` (the token's claims or None), `endpoint`, `version`, `globals`, `time` and `id` (the
    request id of the access log and the `X-Request-ID` reply header).
    """

    __slots__ = (
        "_body",
        "_cookies",
        "_headers",
        "_path",
        "_query",
        "_time",
        "endpoint",
        "environ",
        "globals",
        "method",
        "params",
        "user",
        "version",
    )

    def __init__(
        self,
        environ: WSGIEnvironment,
        *,
        version: str,
        globals: Mapping[str, Any],
        time: datetime | None = None,
        params: dict[str, str] | None = None,
        endpoint: EndpointInfo | None = None,
    ) -> None:
        self.environ = environ
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
            self._path = "/" + raw.lstrip("/")
        return self._path

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
        return self._body


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
    decoded = text.encode("latin-1", "replace").decode("utf-8", "replace")
    return dict(parse_qsl(decoded, keep_blank_values=True, errors="werkzeug.url_quote"))


def read_body(environ: WSGIEnvironment) -> Any:
    """Return the request body for a workflow: parsed JSON for JSON content types, a dict of fields
    (last value wins) for form posts, text for any other non-empty body, None for an empty one.

    Raises BadBodyError when a JSON body does not parse.
    """
    if environ.get("CONTENT_LENGTH", "") in ("", "0") and "chunked" not in environ.get(
        "HTTP_TRANSFER_ENCODING", ""
    ):
        return None  # no body: skip parsing a content type and reading the stream (most GETs)
    mimetype, options = parse_options_header(environ.get("CONTENT_TYPE", ""))
    mimetype = mimetype.lower()
    if mimetype in _FORM_TYPES:
        _, form, _ = parse_form_data(environ)
        return {name: values[-1] for name, values in form.lists()}
    data = get_input_stream(environ).read()
    if not data:
        return None
    if mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            return json.loads(data)
        except ValueError as err:
            raise BadBodyError(f"the JSON body does not parse: {err}") from None
    charset = options.get("charset", "utf-8")
    try:
        return data.decode(charset, "replace")
    except LookupError:  # an unknown charset name: UTF-8 is what the rest of the web sends
        return data.decode("utf-8", "replace")
