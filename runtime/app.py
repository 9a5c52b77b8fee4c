"""The WSGI app of one version: SPEC §4, one request at a time, everything compiled beforehand.

`build_app` does all the work a project needs (routes, templates, redirect targets, handlers, the
token secret) once; a request only matches, checks access, runs code and renders. Nothing a caller
sends can make the app read a file or parse a template.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit
from uuid import UUID

from werkzeug.wrappers import Response

from epctl.runtime.access import Gatekeeper, read_credentials
from epctl.runtime.contracts import Contracts
from epctl.runtime.render import Renderer, make_context
from epctl.runtime.replies import BodyReply, Cookies, PageReply, RedirectReply
from epctl.runtime.request import BadBodyError, EndpointInfo, Request
from epctl.runtime.workflows import Handler, load_handlers
from epctl.schemas.loader import load_environments
from epctl.schemas.models import Endpoint, Environment, Reply
from epctl.schemas.problems import EpctlError
from epctl.schemas.project import DEVELOP, Project
from epctl.schemas.routing import BadEncoding, Disabled, Matched, MethodNotAllowed, NotFound, Preflight
from epctl.schemas.version_file import load_version

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("epctl.runtime")

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
# How long a browser may cache a preflight answer. Chrome caps this at 2 hours and Firefox at 24; ten
# minutes keeps preflights rare without leaving a changed CORS policy stale for long.
PREFLIGHT_MAX_AGE = "600"
# Characters left as they are when re-quoting a path: the route literal set of
# reference/routing-semantics.md (letters, digits and `-._~` are never quoted) plus `%` and `/`.
_PATH_SAFE = "/%!$&'()*+,;=:@"


class UnknownEnvironmentError(EpctlError):
    """An environment that epctl.toml does not declare, or whose version cannot be served."""


class UnsafeLocationError(EpctlError):
    """A redirect target holding CR or LF: sending it would let the target inject headers."""


def create_app(project_dir: str | Path, version: str = DEVELOP, *, env: str | None = None) -> EpctlApp:
    """Return the WSGI app serving `version` of the project in `project_dir`, or with `env` the
    version an environment points at, mounted at the environment's `root`.

    Raises ProjectError when the version is invalid, VersionError when it is missing or fails its
    digest, UnknownEnvironmentError for an undeclared environment, MissingSecretError when protected
    endpoints have no token secret in the environment.
    """
    root = Path(project_dir).resolve()
    if env is None:
        return build_app(load_version(root, version))
    environment = find_environment(root, env)
    return build_app(load_version(root, environment.version), root=environment.root)


def find_environment(project_dir: Path, env: str) -> Environment:
    """Return environment `env` of epctl.toml; raise UnknownEnvironmentError or ProjectError."""
    environments = load_environments(project_dir)
    if env not in environments:
        known = ", ".join(sorted(environments)) or "none declared"
        raise UnknownEnvironmentError(f'no environment "{env}" in epctl.toml (environments: {known})')
    return environments[env]


def build_app(project: Project, *, root: str = "") -> EpctlApp:
    """Return the WSGI app of a loaded `project`, mounted at `root` ("" or a prefix like "/api").

    Raises ProjectError when routes, templates or handlers do not build, MissingSecretError when an
    endpoint needs user tokens and the secret variable is unset.
    """
    return EpctlApp(project, root=root)


class EpctlApp:
    """A WSGI callable serving one version of a project."""

    def __init__(self, project: Project, *, root: str = "") -> None:
        self.project = project
        self.root = "/" + root.strip("/") if root.strip("/") else ""
        # The loader built the router from exactly these endpoints; build its search trees now, so
        # gunicorn workers forked from this process share them and no first request pays for them.
        self.router = project.router
        self.router.prepare()
        self.settings = project.settings
        self.gatekeeper = Gatekeeper(project)
        self.renderer = Renderer(project)
        self.handlers: dict[str, list[Handler]] = load_handlers(project)
        self.contracts = Contracts(project)  # request/response schemas, compiled once
        self.endpoints: dict[str, EndpointInfo] = {
            endpoint.id: EndpointInfo(endpoint.id, endpoint.route, MappingProxyType(dict(endpoint.tags)))
            for endpoint in project.endpoints
        }
        # Read-only at the top level: a workflow writing into globals would leak into every request.
        self.globals: Mapping[str, Any] = MappingProxyType(copy.deepcopy(self.settings.globals))
        self.wildcard_origin = "*" in self.settings.allowed_origins
        self.origins = frozenset(self.settings.allowed_origins)

    def __repr__(self) -> str:
        return (
            f"<EpctlApp {self.project.name} {self.project.version} ({len(self.project.endpoints)} endpoints)>"
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ, version=self.project.version, globals=self.globals, time=datetime.now(UTC))
        response = self.respond(request)
        return response(environ, start_response)

    # -- the request flow of SPEC §4 -------------------------------------------------------------
    def respond(self, request: Request) -> Response:
        """Return the full reply to `request`: routed, access-checked, with CORS and response headers."""
        try:
            response = self.route_request(request)
        except Exception:
            log.exception("unexpected error serving %s %s", request.method, request.path)
            response = error_response(500, "Internal server error")
        # One set of the names already present: `name in response.headers` costs an exception inside
        # werkzeug on every miss, and this runs for every header of every reply.
        present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118 (Headers is no dict)
        self.add_cors_headers(request, response, present)
        for name, value in self.settings.response_headers.items():
            if name.lower() not in present:
                response.headers[name] = value
        return response

    def route_request(self, request: Request) -> Response:
        """Return the reply the router's outcome calls for (before CORS and response headers)."""
        path = strip_root(read_raw_path(request.environ), self.root)
        if path is None:
            return self.reply_not_found(request)
        match self.router.match(request.method, path):
            case Matched(target=endpoint, params=params):
                request.params = params
                request.endpoint = self.endpoints[endpoint.id]
                return self.serve_endpoint(request, endpoint)
            case Preflight() as preflight:
                return self.reply_preflight(request, preflight.allowed)
            case MethodNotAllowed() as refused:
                response = error_response(405, "Method not allowed")
                response.headers["Allow"] = refused.allow_header
                return response
            case Disabled():
                return error_response(503, "Endpoint disabled")
            case BadEncoding():
                return error_response(400, "Bad request")
            case NotFound():
                return self.reply_not_found(request)
        raise AssertionError("unreachable: every router outcome is handled above")

    def reply_not_found(self, request: Request) -> Response:
        reply = self.settings.not_found_reply
        if reply is None:
            return error_response(404, "Not found")
        # A not-found page defaults to 404 (a 200 would be a soft 404 that search engines index), a
        # not-found redirect to 302 (a 301 would be cached by browsers for a path that may appear later).
        return self.render_reply(reply, request, None, page_status=404, redirect_status=302)

    def reply_preflight(self, request: Request, allowed: tuple[str, ...]) -> Response:
        response = Response(status=204)
        del response.headers["Content-Type"]  # no body, so nothing to describe
        response.headers["Access-Control-Allow-Methods"] = ", ".join(allowed)
        asked = request.environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
        if asked:
            response.headers["Access-Control-Allow-Headers"] = asked
            response.vary.add("Access-Control-Request-Headers")
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response

    def serve_endpoint(self, request: Request, endpoint: Endpoint) -> Response:
        verdict = self.gatekeeper.check_access(endpoint, read_credentials(request))
        request.user = verdict.user
        if not verdict.allowed:
            return self.reply_unauthorized(request, endpoint, verdict.status)
        # >>> contracts hook 1 of 2: a query or body failing the endpoint's request_schema is 400, before
        # any workflow runs (runtime/contracts.py).
        refused = self.contracts.check_request(endpoint.id, request)
        if refused is not None:
            return refused
        # <<< contracts hook 1
        handlers = self.handlers.get(endpoint.id, [])
        if handlers:
            try:
                request.body  # noqa: B018 (read now: a body that does not parse is 400 before any workflow)
            except BadBodyError:
                return error_response(400, "Bad request")
        response = self.run_workflows(endpoint, handlers, request)
        # >>> contracts hook 2 of 2: a 2xx reply failing the endpoint's response_schema is logged, and
        # replaced by a 500 when the settings enforce response schemas (runtime/contracts.py).
        return self.contracts.check_response(endpoint.id, request, response)

    def reply_unauthorized(self, request: Request, endpoint: Endpoint, status: int) -> Response:
        reply = endpoint.unauthorized_reply or self.settings.unauthorized_reply
        if reply is None:
            return error_response(status, "Unauthorized" if status == 401 else "Forbidden")
        return self.render_reply(reply, request, endpoint, page_status=status, redirect_status=302)

    def run_workflows(self, endpoint: Endpoint, handlers: list[Handler], request: Request) -> Response:
        """Return the static reply, else the first workflow reply; every workflow runs either way."""
        response: Response | None = None
        if endpoint.reply is not None:
            response = self.render_reply(
                endpoint.reply, request, endpoint, page_status=200, redirect_status=301
            )
        for handler in handlers:
            try:
                value = handler.function(request)
            except Exception:
                log.exception(
                    'workflow "%s" (%s) failed on %s %s',
                    handler.workflow,
                    handler.handler,
                    request.method,
                    request.path,
                )
                # The reply is settled once something failed before any reply: later workflows still
                # run (each may have its own side effects), but the caller gets the generic 500.
                if response is None:
                    response = error_response(500, "Internal server error")
                continue
            if value is None or response is not None:
                continue
            try:
                response = self.make_response(value, request, endpoint)
            except Exception:
                log.exception(
                    'workflow "%s" (%s) returned a reply that cannot be sent: %r',
                    handler.workflow,
                    handler.handler,
                    value,
                )
                response = error_response(500, "Internal server error")
        if response is None:
            log.error(
                'endpoint "%s" gave no reply to %s %s: it has no static reply and no workflow returned one',
                endpoint.id,
                request.method,
                request.path,
            )
            response = error_response(500, "Internal server error")
        return response

    # -- replies ---------------------------------------------------------------------------------
    def context(self, request: Request, endpoint: Endpoint | None) -> dict[str, Any]:
        """Return the render context of `request`: built only for a reply that renders something."""
        return make_context(self.project, request=request, endpoint=endpoint)

    def render_reply(
        self,
        reply: Reply,
        request: Request,
        endpoint: Endpoint | None,
        *,
        page_status: int,
        redirect_status: int,
    ) -> Response:
        """Return the response of a reply table; a failing render is logged and answers 500."""
        try:
            context = self.context(request, endpoint)
            if reply.type == "page":
                assert reply.page is not None
                text, content_type = self.renderer.render_page(reply.page, context)
                return Response(text, status=reply.status or page_status, content_type=content_type)
            assert reply.to is not None
            location = self.renderer.render_location(reply.to, context)
            return redirect_response(location, reply.status or redirect_status)
        except Exception:
            log.exception("rendering the reply %s failed", reply.model_dump(exclude_none=True))
            return error_response(500, "Internal server error")

    def make_response(self, value: object, request: Request, endpoint: Endpoint) -> Response:
        """Return the response for what a workflow returned (Flask's view return conventions).

        Raises TypeError for a value no convention covers, and what rendering a page raises.
        """
        if isinstance(value, tuple):
            if len(value) == 3:
                body, status, headers = value
            elif len(value) == 2 and isinstance(value[1], Mapping | list):
                (body, headers), status = value, None
            elif len(value) == 2:
                (body, status), headers = value, None
            else:
                raise TypeError(
                    f"a workflow tuple is (body, status) or (body, status, headers), not {len(value)} items"
                )
            response = self.make_response(body, request, endpoint)
            if status is not None:
                response.status = status if isinstance(status, str) else int(status)
            add_headers(response, headers)
            return response
        if isinstance(value, Response):
            return value
        if isinstance(value, PageReply):
            context = self.context(request, endpoint)
            text, content_type = self.renderer.render_page(value.name, context, value.data)
            response = Response(text, status=value.status, content_type=content_type)
        elif isinstance(value, RedirectReply):
            response = redirect_response(value.to, value.status)
        elif isinstance(value, BodyReply):
            response = body_response(value.body)
            response.status = value.status
        else:
            return body_response(value)
        add_headers(response, value.headers)
        set_cookies(response, value.cookies)
        return response

    def add_cors_headers(self, request: Request, response: Response, present: set[str]) -> None:
        """Add `Access-Control-Allow-Origin` (SPEC §4.3) unless the reply set it itself; `present`
        holds the lowercase names of the headers the reply already has."""
        if not self.settings.cors or "access-control-allow-origin" in present:
            return
        origin = request.environ.get("HTTP_ORIGIN")
        if origin is not None and origin in self.origins and origin != "*":
            response.headers["Access-Control-Allow-Origin"] = origin
            add_vary_origin(response, present)
        elif self.wildcard_origin:
            response.headers["Access-Control-Allow-Origin"] = "*"
        else:
            # The answer depends on Origin even when nothing is echoed: caches must not reuse it.
            add_vary_origin(response, present)


def add_vary_origin(response: Response, present: set[str]) -> None:
    # Setting the header directly when there is none skips parsing an empty header set.
    if "vary" in present:
        response.vary.add("Origin")
    else:
        response.headers["Vary"] = "Origin"


def read_raw_path(environ: Mapping[str, Any]) -> str:
    """Return the request path as the client sent it, still percent-encoded, without the query.

    werkzeug's dev server and test client set RAW_URI and REQUEST_URI, gunicorn RAW_URI, uWSGI
    REQUEST_URI. Only when neither is there, PATH_INFO is quoted again: `%2F` and `/` are then
    indistinguishable, which is why the raw forms come first.
    """
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if uri:
        path = uri.split("?", 1)[0].split("#", 1)[0]
        if not path.startswith("/"):
            path = urlsplit(path).path  # absolute-form request target: http://host/path
        script_name = _quote_path(environ.get("SCRIPT_NAME", ""))
        if script_name and path.startswith(script_name):
            path = path[len(script_name) :]
    else:
        path = environ.get("PATH_INFO", "")
    # WSGI strings are bytes decoded as latin-1; raw non-ASCII bytes and spaces become %XX.
    return _quote_path(path) or "/"


def _quote_path(path: str) -> str:
    return quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE)


def strip_root(path: str, root: str) -> str | None:
    """Return `path` without the mount prefix `root`, or None when the path is outside it."""
    if not root:
        return path
    if path == root:
        return "/"
    if path.startswith(root + "/"):
        return path[len(root) :]
    return None


def error_response(status: int, message: str) -> Response:
    """Return the JSON error reply `{"error": message}` with `status`."""
    return Response(_dump_json({"error": message}), status=status, content_type=JSON_TYPE)


def redirect_response(location: str, status: int) -> Response:
    """Return a redirect to `location`; raises UnsafeLocationError when it holds CR or LF."""
    if "\r" in location or "\n" in location:
        raise UnsafeLocationError(f"refusing a redirect to {location!r}: it holds a line break")
    response = Response(status=status)
    response.headers["Location"] = location
    return response


def body_response(body: Any) -> Response:
    """Return the response for a bare body: dict or list as JSON, str or bytes as HTML.

    Raises TypeError for anything else.
    """
    if isinstance(body, Response):
        return body
    if isinstance(body, dict | list):
        return Response(_dump_json(body), content_type=JSON_TYPE)
    if isinstance(body, str | bytes):
        return Response(body, content_type=HTML_TYPE)
    raise TypeError(
        f"a workflow returned {type(body).__name__}; return a dict, list, str, tuple, werkzeug Response, "
        "page(), redirect(), reply() or None"
    )


def add_headers(response: Response, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> None:
    """Set headers from a mapping (replacing), or add them from (name, value) pairs (repeatable)."""
    if headers is None:
        return
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            response.headers[name] = value
    else:
        for name, value in headers:
            response.headers.add(name, value)


def set_cookies(response: Response, cookies: Cookies) -> None:
    """Add a Set-Cookie for each `{name: value}` or `{name: {"value": ..., werkzeug set_cookie options}}`."""
    for name, spec in cookies.items():
        if isinstance(spec, Mapping):
            options = {key: value for key, value in spec.items() if key != "value"}
            response.set_cookie(name, str(spec.get("value", "")), **{"path": "/", **options})
        else:
            response.set_cookie(name, str(spec), path="/")


def _dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
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
