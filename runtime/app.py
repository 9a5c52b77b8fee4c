"""The WSGI app of one version: SPEC §4, one request at a time, everything compiled beforehand.

`build_app` does all the work a project needs (routes, templates, redirect targets, handlers, the
token secret, the headers every reply gets) once; a request only matches, checks access, runs code
and renders. Nothing a caller sends can make the app read a file or parse a template.

The request path builds nothing it does not use: one lazy `Request`, the router's outcome, one
`Answer` (status line, header list, body bytes; see `answers.py`) handed to `start_response`. No
werkzeug `Request` or `Response` is made for a request (a workflow may still return a `Response`).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from werkzeug.wrappers import Response

from epctl.runtime.access import Gatekeeper
from epctl.runtime.answers import (
    HTML_TYPE,
    Answer,
    Headers,
    UnsafeLocationError,
    add_cookies,
    add_vary,
    answer_from_wsgi,
    apply_headers,
    error_answer,
    fix_locations,
    header_value,
    json_answer,
    redirect_answer,
    send_answer,
    set_header,
    text_answer,
)
from epctl.runtime.contracts import Contracts
from epctl.runtime.observability.access_log import Outcome
from epctl.runtime.observability.context import note_endpoint, note_outcome, note_user, note_workflow_error
from epctl.runtime.observability.tracing import workflow_span
from epctl.runtime.render import Renderer, make_context
from epctl.runtime.replies import BodyReply, PageReply, RedirectReply
from epctl.runtime.request import BadBodyError, EndpointInfo, Request
from epctl.runtime.workflows import Handler, load_handlers
from epctl.schemas.loader import load_environments
from epctl.schemas.models import Endpoint, Environment, Reply
from epctl.schemas.problems import Code, EpctlError, Place, Problem, ProjectError
from epctl.schemas.project import DEVELOP, Project
from epctl.schemas.routing import BadEncoding, Disabled, Matched, MethodNotAllowed, NotFound, Preflight
from epctl.schemas.version_file import load_version

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "EpctlApp",
    "UnknownEnvironmentError",
    "UnsafeLocationError",
    "build_app",
    "create_app",
    "read_raw_path",
]

log = logging.getLogger("epctl.runtime")

# How long a browser may cache a preflight answer. Chrome caps this at 2 hours and Firefox at 24; ten
# minutes keeps preflights rare without leaving a changed CORS policy stale for long.
PREFLIGHT_MAX_AGE = "600"
# Characters left as they are when re-quoting a path: the route literal set of
# README's "Routes" section (letters, digits and `-._~` are never quoted) plus `%` and `/`.
_PATH_SAFE = "/%!$&'()*+,;=:@"
# A path holding only those characters is its own quoting: most paths, which then skip `quote`.
_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9\-._~/%!$&'()*+,;=:@]").search
# Response header names whose interplay with the reply's own headers and CORS takes the general path.
_MERGED_NAMES = frozenset({"content-type", "content-length", "vary", "access-control-allow-origin"})


class UnknownEnvironmentError(EpctlError):
    """An environment that epctl.toml does not declare, or whose version cannot be served."""


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
    app = build_app(load_version(root, environment.version), root=environment.root)
    app.environment = env  # the label of its access lines and metrics under the gunicorn config module
    return app


def find_environment(project_dir: Path, env: str) -> Environment:
    """Return environment `env` of epctl.toml; raise UnknownEnvironmentError or ProjectError."""
    environments = load_environments(project_dir)
    if env not in environments:
        known = ", ".join(sorted(environments)) or "none declared"
        raise UnknownEnvironmentError(f'no environment "{env}" in epctl.toml (environments: {known})')
    return environments[env]


def build_app(project: Project, *, root: str = "") -> EpctlApp:
    """Return the WSGI app of a loaded `project`, mounted at `root` ("" or a prefix like "/api").

    Raises ProjectError when routes, templates, handlers or response headers do not build,
    MissingSecretError when an endpoint needs user tokens and the secret variable is unset.
    """
    return EpctlApp(project, root=root)


class EndpointPlan:
    """What serving one endpoint needs, looked up once per request: the endpoint, what handlers and
    templates see of it, and its workflow handlers in declaration order."""

    __slots__ = ("endpoint", "handlers", "info")

    def __init__(self, endpoint: Endpoint, handlers: list[Handler]) -> None:
        self.endpoint = endpoint
        self.info = EndpointInfo(endpoint.id, endpoint.route, MappingProxyType(dict(endpoint.tags)))
        self.handlers = tuple(handlers)


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
        self.contracts = Contracts(project)  # request/response schemas, compiled once
        handlers = load_handlers(project)
        self.plans: dict[str, EndpointPlan] = {
            endpoint.id: EndpointPlan(endpoint, handlers.get(endpoint.id, []))
            for endpoint in project.endpoints
        }
        # Read-only at the top level: a workflow writing into globals would leak into every request.
        self.globals: Mapping[str, Any] = MappingProxyType(copy.deepcopy(self.settings.globals))
        self.version = project.version
        self.environment = ""  # the environment served, when created for one (`create_app(env=...)`)
        self._build_headers()

    def _build_headers(self) -> None:
        """Compute once what every reply gets (SPEC §4 steps 3 and 6): CORS and `response_headers`.

        Raises ProjectError for a response header value holding a line break.
        """
        settings = self.settings
        self.cors = settings.cors
        self.origins = frozenset(settings.allowed_origins)
        self.wildcard_origin = "*" in self.origins
        problems = []
        checked: list[tuple[str, str, str]] = []
        for name, value in settings.response_headers.items():
            try:
                checked.append((name.lower(), name, header_value(value)))
            except ValueError:
                message = f'response header "{name}" holds a line break; a header value is one line'
                place = Place(file="epctl.toml", key=f"settings.response_headers.{name}")
                problems.append(Problem.error(Code.INVALID_VALUE, message, place))
        if problems:
            raise ProjectError(problems)
        # (lowercase name, name, value) of each response header, for the merge of `finish_headers`.
        self.response_headers = tuple(checked)
        # The headers a plain reply (its own headers only `Content-Type`) gets, when they do not depend
        # on the request: `*` or no origin at all. With listed origins, the Origin header decides.
        self.static_cors: Headers | None = None
        if not self.cors:
            self.static_cors = []
        elif not self.origins - {"*"}:
            star = [("Access-Control-Allow-Origin", "*")]
            # The answer depends on Origin even when nothing is echoed: caches must not reuse it.
            self.static_cors = star if self.wildcard_origin else [("Vary", "Origin")]
        # A reply's own header beats a response header of the same name, and a response header replaces
        # what CORS added: where names overlap, only the general merge gets that right.
        self.fast_headers = not _MERGED_NAMES.intersection(lower for lower, _, _ in checked)
        self.plain_tail: Headers = [(name, value) for _, name, value in checked]

    def __repr__(self) -> str:
        return (
            f"<EpctlApp {self.project.name} {self.project.version} ({len(self.project.endpoints)} endpoints)>"
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ, version=self.version, globals=self.globals)
        answer = self.respond(request)
        own = answer.headers
        if (
            answer.code == 200
            and self.fast_headers
            and len(own) == 1
            and own[0][0] == "Content-Type"
            and answer.stream is None
        ):
            # The common reply, a JSON or page body: its one header cannot clash with the ones added,
            # and a 200 needs no other fix-up, so the header list is built in one go.
            body = answer.body
            headers = [own[0], ("Content-Length", str(len(body)))]
            cors = self.static_cors
            headers += cors if cors is not None else self.origin_headers(environ.get("HTTP_ORIGIN"))
            headers += self.plain_tail
            start_response(answer.status, headers)
            return () if request.method == "HEAD" else (body,)
        return send_answer(answer, self.finish_headers(request, answer), environ, start_response)

    # -- the request flow of SPEC §4 -------------------------------------------------------------
    def respond(self, request: Request) -> Answer:
        """Return the answer to `request`: routed, access-checked, a crash becoming the 500 answer.

        CORS and the version's response headers are added when it is sent (`finish_headers`).
        """
        try:
            return self.route_request(request)
        except Exception:
            log.exception("unexpected error serving %s %s", request.method, request.path)
            return error_answer(500, "Internal server error")

    def route_request(self, request: Request) -> Answer:
        """Return the answer the router's outcome calls for."""
        path = strip_root(read_raw_path(request.environ), self.root)
        if path is None:
            return self.reply_not_found(request)
        match self.router.match(request.method, path):
            case Matched(target=endpoint, params=params):
                request.params = params
                note_endpoint(endpoint.id, endpoint.route)
                plan = self.plans[endpoint.id]
                request.endpoint = plan.info
                return self.serve_endpoint(request, plan)
            case Preflight() as preflight:
                return self.reply_preflight(request, preflight.allowed)
            case MethodNotAllowed() as refused:
                note_outcome(Outcome.METHOD_NOT_ALLOWED)
                answer = error_answer(405, "Method not allowed")
                answer.headers.append(("Allow", refused.allow_header))
                return answer
            case Disabled():
                return error_answer(503, "Endpoint disabled")
            case BadEncoding():
                return error_answer(400, "Bad request")
            case NotFound():
                return self.reply_not_found(request)
        raise AssertionError("unreachable: every router outcome is handled above")

    def reply_not_found(self, request: Request) -> Answer:
        note_outcome(Outcome.NOT_FOUND)
        reply = self.settings.not_found_reply
        if reply is None:
            return error_answer(404, "Not found")
        # A not-found page defaults to 404 (a 200 would be a soft 404 that search engines index), a
        # not-found redirect to 302 (a 301 would be cached by browsers for a path that may appear later).
        return self.render_reply(reply, request, None, page_status=404, redirect_status=302)

    def reply_preflight(self, request: Request, allowed: tuple[str, ...]) -> Answer:
        headers = [("Access-Control-Allow-Methods", ", ".join(allowed))]
        asked = request.environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
        if asked:
            headers.append(("Access-Control-Allow-Headers", header_value(asked)))
            headers.append(("Vary", "Access-Control-Request-Headers"))
        headers.append(("Access-Control-Max-Age", PREFLIGHT_MAX_AGE))
        return Answer(204, headers)  # no body, so no Content-Type

    def serve_endpoint(self, request: Request, plan: EndpointPlan) -> Answer:
        endpoint = plan.endpoint
        verdict = self.gatekeeper.check_request(endpoint, request)
        request.user = verdict.user
        if verdict.user is not None:
            sub = verdict.user.get("sub")
            note_user(sub if isinstance(sub, str) else None)
        if not verdict.allowed:
            note_outcome(Outcome.UNAUTHORIZED if verdict.status == 401 else Outcome.FORBIDDEN)
            return self.reply_unauthorized(request, endpoint, verdict.status)
        # A query or body failing the endpoint's request_schema is 400, before any workflow runs.
        refused = self.contracts.check_request(endpoint.id, request)
        if refused is not None:
            return refused
        handlers = plan.handlers
        if handlers:
            try:
                request.body  # noqa: B018 (read now: a body that does not parse is 400 before any workflow)
            except BadBodyError:
                return error_answer(400, "Bad request")
        answer = self.run_workflows(endpoint, handlers, request)
        # A 2xx reply failing the endpoint's response_schema is logged, and replaced by a 500 when the
        # settings enforce response schemas.
        return self.contracts.check_response(endpoint.id, request, answer)

    def reply_unauthorized(self, request: Request, endpoint: Endpoint, status: int) -> Answer:
        reply = endpoint.unauthorized_reply or self.settings.unauthorized_reply
        if reply is None:
            return error_answer(status, "Unauthorized" if status == 401 else "Forbidden")
        return self.render_reply(reply, request, endpoint, page_status=status, redirect_status=302)

    def run_workflows(self, endpoint: Endpoint, handlers: tuple[Handler, ...], request: Request) -> Answer:
        """Return the static reply, else the first workflow reply; every workflow runs either way."""
        answer: Answer | None = None
        if endpoint.reply is not None:
            answer = self.render_reply(
                endpoint.reply, request, endpoint, page_status=200, redirect_status=301
            )
        for handler in handlers:
            try:
                with workflow_span(handler.workflow, handler.handler):
                    value = handler.function(request)
            except Exception:
                note_workflow_error()
                log.exception(
                    'workflow "%s" (%s) failed on %s %s',
                    handler.workflow,
                    handler.handler,
                    request.method,
                    request.path,
                )
                # The reply is settled once something failed before any reply: later workflows still
                # run (each may have its own side effects), but the caller gets the generic 500.
                if answer is None:
                    answer = error_answer(500, "Internal server error")
                continue
            if value is None or answer is not None:
                continue
            try:
                answer = self.make_answer(value, request, endpoint)
            except Exception:
                log.exception(
                    'workflow "%s" (%s) returned a reply that cannot be sent: %r',
                    handler.workflow,
                    handler.handler,
                    value,
                )
                answer = error_answer(500, "Internal server error")
        if answer is None:
            log.error(
                'endpoint "%s" gave no reply to %s %s: it has no static reply and no workflow returned one',
                endpoint.id,
                request.method,
                request.path,
            )
            answer = error_answer(500, "Internal server error")
        return answer

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
    ) -> Answer:
        """Return the answer of a reply table; a failing render is logged and answers 500."""
        try:
            context = self.context(request, endpoint)
            if reply.type == "page":
                assert reply.page is not None
                text, content_type = self.renderer.render_page(reply.page, context)
                return text_answer(text, content_type, reply.status or page_status)
            assert reply.to is not None
            location = self.renderer.render_location(reply.to, context)
            return redirect_answer(location, reply.status or redirect_status)
        except Exception:
            log.exception("rendering the reply %s failed", reply.model_dump(exclude_none=True))
            return error_answer(500, "Internal server error")

    def make_answer(self, value: object, request: Request, endpoint: Endpoint) -> Answer:
        """Return the answer for what a workflow returned (Flask's view return conventions).

        Raises TypeError for a value no convention covers, ValueError for a bad status or a header
        value holding a line break, UnsafeLocationError, and what rendering a page raises.
        """
        if isinstance(value, dict | list):
            return json_answer(value)  # the common case first
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
            answer = self.make_answer(body, request, endpoint)
            if status is not None:
                answer.set_status(status)
            apply_headers(answer.headers, headers)
            return answer
        if isinstance(value, PageReply):
            context = self.context(request, endpoint)
            text, content_type = self.renderer.render_page(value.name, context, value.data)
            answer = text_answer(text, content_type, value.status)
        elif isinstance(value, RedirectReply):
            answer = redirect_answer(value.to, value.status)
        elif isinstance(value, BodyReply):
            answer = body_answer(value.body, request)
            answer.set_status(value.status)
        else:
            return body_answer(value, request)
        apply_headers(answer.headers, value.headers)
        add_cookies(answer.headers, value.cookies)
        return answer

    # -- the headers every reply gets --------------------------------------------------------------
    def origin_headers(self, origin: str | None) -> Headers:
        """Return the CORS headers for a request from `origin` (SPEC §4.3), CORS being on."""
        if origin is not None and origin in self.origins and origin != "*":
            return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self.wildcard_origin:
            return [("Access-Control-Allow-Origin", "*")]
        # The answer depends on Origin even when nothing is echoed: caches must not reuse it.
        return [("Vary", "Origin")]

    def finish_headers(self, request: Request, answer: Answer) -> Headers:
        """Return the answer's headers with CORS and the response headers added: a header the reply
        set itself is kept, and `Origin` joins a `Vary` the reply set."""
        headers = answer.headers
        present = {name.lower() for name, _ in headers}
        if self.cors and "access-control-allow-origin" not in present:
            for name, value in self.origin_headers(request.environ.get("HTTP_ORIGIN")):
                if name == "Vary":
                    add_vary(headers, value)
                else:
                    headers.append((name, value))
        for lower, name, value in self.response_headers:
            if lower not in present:
                set_header(headers, name, value)
        fix_locations(headers)
        return headers


def body_answer(body: Any, request: Request) -> Answer:
    """Return the answer for a bare body: dict or list as JSON, str or bytes as HTML, a werkzeug
    Response called as the WSGI app it is.

    Raises TypeError for anything else.
    """
    if isinstance(body, dict | list):
        return json_answer(body)
    if isinstance(body, str | bytes):
        return text_answer(body, HTML_TYPE)
    if isinstance(body, Response):
        return answer_from_wsgi(body, request.environ)
    raise TypeError(
        f"a workflow returned {type(body).__name__}; return a dict, list, str, tuple, werkzeug Response, "
        "page(), redirect(), reply() or None"
    )


def read_raw_path(environ: Mapping[str, Any]) -> str:
    """Return the request path as the client sent it, still percent-encoded, without the query.

    werkzeug's dev server and test client set RAW_URI and REQUEST_URI, gunicorn RAW_URI, uWSGI
    REQUEST_URI. Only when neither is there, PATH_INFO is quoted again: `%2F` and `/` are then
    indistinguishable, which is why the raw forms come first.
    """
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if uri:
        path = uri.partition("?")[0].partition("#")[0]
        if not path.startswith("/"):
            path = urlsplit(path).path  # absolute-form request target: http://host/path
        script_name = environ.get("SCRIPT_NAME")
        if script_name:
            script_name = _quote_path(script_name)
        if script_name and path.startswith(script_name):
            path = path[len(script_name) :]
    else:
        path = environ.get("PATH_INFO", "")
    # WSGI strings are bytes decoded as latin-1; raw non-ASCII bytes and spaces become %XX.
    return _quote_path(path) or "/"


def _quote_path(path: str) -> str:
    if _NEEDS_QUOTING(path) is None:
        return path
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
