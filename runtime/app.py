"""The WSGI app of one version: README "Serving a request", one request at a time, everything
compiled beforehand.

`build_app` does all the work a project needs (routes, templates, redirect targets, handlers, the
token secret, the headers every reply gets) once; a request only matches, checks access, runs code
and renders. Nothing a caller sends can make the app read a file or parse a template.

The request path builds nothing it does not use: one lazy `Request`, the router's outcome, one
`Answer` (status line, header list, body bytes; see `answers.py`) handed to `start_response`. No
werkzeug `Request` or `Response` is made for a request (a workflow may still return a `Response`).
"""

from __future__ import annotations

import contextvars
import dataclasses
import gc
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from werkzeug.wrappers import Response

from epctl.runtime.access import CROSS_SITE, Gatekeeper
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
    run_after_close,
    send_answer,
    set_header,
    text_answer,
)
from epctl.runtime.contracts import Contracts
from epctl.runtime.deadline import run_with_deadline
from epctl.runtime.header_rules import check_headers, check_status
from epctl.runtime.limits import RequestLimits, freeze
from epctl.runtime.mount import clean_root, strip_root
from epctl.runtime.observability.access_log import Outcome
from epctl.runtime.observability.context import note_endpoint, note_outcome, note_user, note_workflow_error
from epctl.runtime.observability.tracing import workflow_span
from epctl.runtime.render import Renderer, make_context
from epctl.runtime.replies import (
    CURRENT_SIGNER,
    BodyReply,
    PageReply,
    RedirectReply,
    SignInReply,
    SignOutReply,
)
from epctl.runtime.request import BadBodyError, EndpointInfo, Request, has_body
from epctl.runtime.sessions import Sessions
from epctl.runtime.static_files import StaticFiles
from epctl.runtime.workflows import Handler, load_handlers
from epctl.schemas.limits import parse_duration, parse_size
from epctl.schemas.loader import load_environments, load_users_section
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
        return build_version(root, version)
    environment = find_environment(root, env)
    app = build_version(root, environment.version, mount=environment.root)
    app.environment = env  # the label of its access lines and metrics under the gunicorn config module
    return app


def build_version(root: Path, version: str, *, mount: str = "") -> EpctlApp:
    """Return the app serving `version` of the project in `root` (resolved) at the path `mount`, as
    every server builds it: `create_app`, a worker of `serve --env`, the check before a promotion,
    `serve --all`. Raises what `load_served_version` and `build_app` raise.

    Cyclic collections are paused meanwhile: reading and building a project makes objects that all
    stay alive, so each collection the allocations set off walks everything built so far and frees
    nothing (a third of the time at 10,000 endpoints, growing faster than the project).
    """
    with collections_paused():
        return build_app(load_served_version(root, version), root=mount)


@contextmanager
def collections_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, then restore it as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_served_version(root: Path, version: str) -> Project:
    """Return version `version` of the project in `root` with the `[users]` table of its epctl.toml:
    users are not part of a version, so a frozen one is served with the project's current table.

    Raises what `load_version` raises, and ProjectError for an invalid `[users]`.
    """
    project = load_version(root, version)
    if version == DEVELOP:
        return project
    return dataclasses.replace(project, users=load_users_section(root))


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

    __slots__ = ("contracted", "endpoint", "handlers", "info")

    def __init__(self, endpoint: Endpoint, handlers: list[Handler], *, contracted: bool) -> None:
        self.endpoint = endpoint
        self.info = EndpointInfo(endpoint.id, endpoint.route, MappingProxyType(dict(endpoint.tags)))
        self.handlers = tuple(handlers)
        # Whether a request or response schema applies: most endpoints skip those checks entirely.
        self.contracted = contracted


class EpctlApp:
    """A WSGI callable serving one version of a project."""

    def __init__(self, project: Project, *, root: str = "") -> None:
        self.project = project
        self.root = clean_root(root)
        # The loader built the router from exactly these endpoints; build its search trees now, so
        # gunicorn workers forked from this process share them and no first request pays for them.
        self.router = project.router
        self.router.prepare()
        self.settings = project.settings
        self.gatekeeper = Gatekeeper(project)
        self.sessions: Sessions | None = None
        if project.users is not None:
            assert self.gatekeeper.secret is not None  # [users] makes the secret required
            self.sessions = Sessions(
                project.root,
                project.users,
                secret=self.gatekeeper.secret,
                issuer=project.auth.issuer,
                cookie_path=self.root or "/",
            )
            self.gatekeeper.sessions = self.sessions
        self.renderer = Renderer(project)
        self.static = StaticFiles(project, self.root)
        # None without static files: no prefix is reserved, and a request pays nothing for them.
        self.static_prefix = self.static.prefix if project.static else None
        self.contracts = Contracts(project)  # request/response schemas, compiled once
        handlers = load_handlers(project)
        self.plans: dict[str, EndpointPlan] = {
            endpoint.id: EndpointPlan(
                endpoint, handlers.get(endpoint.id, []), contracted=self.contracts.has_contract(endpoint.id)
            )
            for endpoint in project.endpoints
        }
        # Read-only all the way down: a workflow writing into globals would leak into every request.
        self.globals: Mapping[str, Any] = freeze(self.settings.globals)
        self.deadline = parse_duration(self.settings.request_timeout)
        self.limits = RequestLimits(parse_size(self.settings.max_body_size))
        self.version = project.version
        self.environment = ""  # the environment served, when created for one (`create_app(env=...)`)
        # Set by `observe_app` when an access log, metrics or tracing wrap this app: only then does the
        # request path tell them the endpoint, user and outcome (README "Operations"). Unobserved, each
        # of those places costs one attribute test and builds nothing.
        self.observed = False
        self.traced = False  # set with `observed` when the wrapper records spans: workflows get theirs
        self._build_headers()

    def _build_headers(self) -> None:
        """Compute once what every reply gets (README "Serving a request", steps 2 and 5): CORS and
        `response_headers`.

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
        request = Request(environ, self.version, self.globals, self.sessions, self.root)
        # Routed and access-checked; a crash becomes the 500 answer. CORS and the version's response
        # headers are added below, as the answer is sent.
        try:
            answer = self.route_request(request)
        except (Exception, SystemExit, KeyboardInterrupt):
            log.exception("unexpected error serving %s %s", request.method, request.path)
            answer = error_answer(500, "Internal server error")
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
            return run_after_close(() if request.method == "HEAD" else (body,), answer)
        sent = send_answer(answer, self.finish_headers(request, answer), environ, start_response)
        return run_after_close(sent, answer)

    # -- the request flow of README "Serving a request" ----------------------------------------
    def route_request(self, request: Request) -> Answer:
        """Return the answer the router's outcome calls for."""
        path = read_raw_path(request.environ)
        if self.root:
            inside = strip_root(path, self.root)
            if inside is None:
                return self.reply_not_found(request)
            path = inside
        if self.static_prefix is not None and path.startswith(self.static_prefix):
            return self.static.answer(request, path) or self.reply_not_found(request)
        match self.router.match(request.method, path):
            case Matched(target=endpoint, params=params):
                request.params = params
                if self.observed:
                    note_endpoint(endpoint.id, endpoint.route)
                plan = self.plans[endpoint.id]
                request.endpoint = plan.info
                return self.serve_endpoint(request, plan)
            case Preflight() as preflight:
                return self.reply_preflight(request, preflight.allowed)
            case MethodNotAllowed() as refused:
                if self.observed:
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
        if self.observed:
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
        if verdict is CROSS_SITE:
            if self.observed:
                note_outcome(Outcome.FORBIDDEN)
            return error_answer(403, "Forbidden: a signed-in change must come from this site's own pages")
        request.user = verdict.user
        allowed = verdict.allowed
        if self.observed and (verdict.user is not None or not allowed):
            note_verdict(verdict.user, verdict.status)
        if not allowed:
            return self.reply_unauthorized(request, endpoint, verdict.status)
        handlers = plan.handlers
        contracted = plan.contracted
        # A request without a body (most GETs) skips reading one: `request.body` is then None.
        body = has_body(request.environ)
        if body:
            refused = self.limits.check_length(request.environ)
            if refused is None and (handlers or (contracted and self.contracts.checks_body(endpoint.id))):
                # Read now, within max_body_size: too large is 413 before any check or workflow, and
                # workflows that run after a static reply still see the request's data.
                refused = self.limits.read_body(request)
            if refused is not None:
                if self.observed and refused.code == 413:
                    note_outcome(Outcome.BODY_TOO_LARGE)
                return refused
        if contracted:
            # A query or body failing the endpoint's request_schema is 400, before any workflow runs.
            refused = self.contracts.check_request(endpoint.id, request)
            if refused is not None:
                return refused
        if body and handlers:
            try:
                request.body  # noqa: B018 (a body that does not parse is 400 before any workflow)
            except BadBodyError:
                return error_answer(400, "Bad request")
        if endpoint.reply is not None:
            answer = self.render_reply(
                endpoint.reply, request, endpoint, page_status=200, redirect_status=301
            )
            if handlers:
                # Losant: "that static reply will be issued immediately"; the workflows run once it is sent.
                answer.after = partial(self.run_after_reply, endpoint, handlers, request)
                if self.observed:
                    # They run once the body is closed, after the wrapper left the request's context:
                    # taken along, so their log lines still carry the request id and endpoint id.
                    answer.after = partial(contextvars.copy_context().run, answer.after)
        elif self.sessions is None or not handlers:
            answer = self.run_workflows(endpoint, handlers, request)
        else:
            # `token_for` in a workflow mints with this app's secret and users store.
            signer = CURRENT_SIGNER.set(self.sessions.token_for)
            try:
                answer = self.run_workflows(endpoint, handlers, request)
            finally:
                CURRENT_SIGNER.reset(signer)
        if not contracted:
            return answer
        # A 2xx reply failing the endpoint's response_schema is logged, and replaced by a 500 when the
        # settings enforce response schemas.
        return self.contracts.check_response(endpoint.id, request, answer)

    def reply_unauthorized(self, request: Request, endpoint: Endpoint, status: int) -> Answer:
        reply = endpoint.unauthorized_reply or self.settings.unauthorized_reply
        if reply is None:
            return error_answer(status, "Unauthorized" if status == 401 else "Forbidden")
        return self.render_reply(reply, request, endpoint, page_status=status, redirect_status=302)

    def run_workflows(self, endpoint: Endpoint, handlers: tuple[Handler, ...], request: Request) -> Answer:
        """Return the first reply of the endpoint's workflows (all of them run), within the deadline:
        504 when they are still running then, 500 when none replied."""
        if not handlers:
            return self.no_reply(endpoint, request)
        outcome = run_with_deadline(partial(self.call_workflows, endpoint, handlers, request), self.deadline)
        if not outcome.finished:
            log.error(
                'endpoint "%s": workflows still running after %s on %s %s; interrupted, answered 504',
                endpoint.id,
                self.settings.request_timeout,
                request.method,
                request.path,
            )
            return error_answer(504, "Gateway timeout")
        if outcome.error is not None:
            log.error('endpoint "%s": running its workflows failed', endpoint.id, exc_info=outcome.error)
            return error_answer(500, "Internal server error")
        return outcome.value or self.no_reply(endpoint, request)

    def run_after_reply(self, endpoint: Endpoint, handlers: tuple[Handler, ...], request: Request) -> None:
        """Run the workflows behind a static reply that was sent already: their replies are ignored,
        their failures and a passed deadline logged."""
        outcome = run_with_deadline(
            partial(self.call_workflows, endpoint, handlers, request, want_reply=False), self.deadline
        )
        if not outcome.finished:
            log.error(
                'endpoint "%s": workflows still running after %s on %s %s (static reply sent): interrupted',
                endpoint.id,
                self.settings.request_timeout,
                request.method,
                request.path,
            )

    def call_workflows(
        self, endpoint: Endpoint, handlers: tuple[Handler, ...], request: Request, *, want_reply: bool = True
    ) -> Answer | None:
        """Run every workflow in declaration order; return the first reply that can be sent, the
        500 answer when one failed and none replied, else None (also always when not `want_reply`).

        A workflow that raises (SystemExit and KeyboardInterrupt included) or returns a reply that
        cannot be sent is logged and the next one still runs: one failing workflow never hides
        another's reply.
        """
        answer: Answer | None = None
        failed = False
        for handler in handlers:
            try:
                if self.traced:
                    with workflow_span(handler.workflow, handler.handler):
                        value = handler.function(request)
                else:
                    value = handler.function(request)
            except (Exception, SystemExit, KeyboardInterrupt):
                if self.observed:
                    note_workflow_error()
                log.exception(
                    'workflow "%s" (%s) of endpoint "%s" failed on %s %s',
                    handler.workflow,
                    handler.handler,
                    endpoint.id,
                    request.method,
                    request.path,
                )
                failed = True
                continue
            if value is None or answer is not None or not want_reply:
                continue
            try:
                if type(value) is dict or type(value) is list:
                    # The common reply: its status and one header are epctl's own, nothing to check.
                    answer = json_answer(value)
                else:
                    answer = self.make_answer(value, request, endpoint)
                    check_status(answer.status)
                    check_headers(answer.headers)
            except Exception:
                log.exception(
                    'workflow "%s" (%s) of endpoint "%s" returned a reply that cannot be sent: %r',
                    handler.workflow,
                    handler.handler,
                    endpoint.id,
                    value,
                )
                answer = None
                failed = True
        if answer is None and failed and want_reply:
            return error_answer(500, "Internal server error")
        return answer

    def no_reply(self, endpoint: Endpoint, request: Request) -> Answer:
        """Return the 500 answer of an endpoint no workflow replied for (and none failed: a failure
        is answered by `call_workflows`), logging why."""
        log.error(
            'endpoint "%s" gave no reply to %s %s: it has no static reply and no workflow returned one',
            endpoint.id,
            request.method,
            request.path,
        )
        return error_answer(500, "Internal server error")

    # -- replies ---------------------------------------------------------------------------------
    def context(self, request: Request, endpoint: Endpoint | None) -> dict[str, Any]:
        """Return the render context of `request`: built only for a reply that renders something."""
        return make_context(self.project, request=request, endpoint=endpoint, static_url=self.static.url)

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
        elif isinstance(value, SignInReply | SignOutReply):
            answer = self.session_answer(value, request)
        else:
            return body_answer(value, request)
        apply_headers(answer.headers, value.headers)
        add_cookies(answer.headers, value.cookies, root=self.root, https=is_https(request))
        return answer

    def session_answer(self, value: SignInReply | SignOutReply, request: Request) -> Answer:
        """Return the 303 of `sign_in` or `sign_out`, with the cookie that starts or ends a session.

        Raises RuntimeError without `[users]`, LookupError for a user who cannot sign in.
        """
        if self.sessions is None:
            raise RuntimeError("sign_in() and sign_out() need experience users: add `[users]` to epctl.toml")
        answer = redirect_answer(value.to, 303)
        if isinstance(value, SignInReply):
            answer.headers.append(self.sessions.sign_in_cookie(value.user, value.ttl, request.environ))
        else:
            answer.headers.append(self.sessions.sign_out_cookie(request.environ))
        return answer

    # -- the headers every reply gets --------------------------------------------------------------
    def origin_headers(self, origin: str | None) -> Headers:
        """Return the CORS headers for a request from `origin` (README "Serving a request",
        step 2), CORS being on."""
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
        fix_locations(headers, self.root)
        return headers


def note_verdict(user: Mapping[str, Any] | None, status: int) -> None:
    """Tell the access log and metrics who is signed in (the token's `sub`, never the token) and,
    for a refused request, why."""
    if user is not None:
        sub = user.get("sub")
        note_user(sub if isinstance(sub, str) else None)
    if status != 200:
        note_outcome(Outcome.UNAUTHORIZED if status == 401 else Outcome.FORBIDDEN)


def is_https(request: Request) -> bool:
    """Return whether the request came over https (as the WSGI server, or a proxy it trusts, says)."""
    return request.environ.get("wsgi.url_scheme") == "https"


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
