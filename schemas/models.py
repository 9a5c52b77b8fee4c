"""What the TOML means: one pydantic model per table of SPEC §1, with SPEC's defaults.

Models check what one table can check on its own (types, allowed values, key names). Checks that
need more than one table (a reply's page exists, ids are unique, routes do not clash) live in
`checks`, so each rule is stated once whether develop or a frozen version is being read.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from epctl.schemas.limits import DEFAULT_MAX_BODY_SIZE, DEFAULT_REQUEST_TIMEOUT, parse_duration, parse_size
from epctl.schemas.problem_codes import SUPPRESSIBLE_CODES, explain_unsuppressible
from epctl.schemas.problems import Code
from epctl.schemas.routing import Method, Route, RouteSyntaxError, parse_route

# One rule for every name a user gives: endpoint ids, table names, API key names, versions.
MAX_NAME_LENGTH = 128
NAME_RULE = f"1-{MAX_NAME_LENGTH} characters of A-Z a-z 0-9 . _ -"
Name = Annotated[str, StringConstraints(pattern=rf"^[A-Za-z0-9._-]{{1,{MAX_NAME_LENGTH}}}$")]
# A version name is also a file name under versions/: a leading dot would hide it.
VERSION_NAME_RULE = f"{NAME_RULE}, not starting with a dot"
VERSION_NAME_PATTERN = rf"^[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{MAX_NAME_LENGTH - 1}}}$"
VersionName = Annotated[str, StringConstraints(pattern=VERSION_NAME_PATTERN)]
Access = Literal["public", "authenticated", "groups"]
# The block a layout leaves for its page.
CONTENT_BLOCK = "content"

# Routes are parsed once when their key is read and again when the router is built: the cache makes
# the second parse free. Route objects are immutable, so sharing them is safe; the bound keeps a
# long-running development server that reloads many edits from growing without limit.
parse_route_cached = functools.lru_cache(maxsize=1 << 16)(parse_route)


def check_route(path: str) -> str:
    """Return `path` when it is a valid route; raise the `invalid-route` problem otherwise."""
    try:
        parse_route_cached(path)
    except RouteSyntaxError as err:
        # No context values: the message is final, and the braces of a route are not placeholders.
        raise PydanticCustomError(str(Code.INVALID_ROUTE), f'route "{path}" is invalid: {err}') from None
    return path


RoutePath = Annotated[str, AfterValidator(check_route)]


def route_of(path: str) -> Route:
    """Return the parsed route of a `RoutePath` (already checked when its table was read)."""
    return parse_route_cached(path)


class Table(BaseModel):
    """A TOML table: unknown keys are errors (a typo must never be silently ignored)."""

    # strict: TOML has real types, so "yes" or 1 where a boolean belongs is a mistake to report,
    # not a value to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Reply(Table):
    """A static reply: `{ type = "page", page, status }` or `{ type = "redirect", to, status }`.

    One model rather than a tagged union keeps pydantic's error paths free of the union tag, so a
    problem points at `endpoint[0].reply.status`, the key the user actually wrote.
    """

    type: Literal["page", "redirect"] = Field(
        description="`page` renders a page; `redirect` sends the caller elsewhere."
    )
    page: str | None = Field(default=None, description="The page to render (a page reply).")
    to: str | None = Field(default=None, description="Where to redirect: a template of a URL or path.")
    status: int | None = Field(
        default=None,
        description="HTTP status; a page replies 200 (401/403 when unauthorized), a redirect 301 (302).",
    )

    @model_validator(mode="after")
    def check_fields_of_type(self) -> Reply:
        if self.type == "page":
            if self.page is None:
                raise ValueError('a page reply needs `page = "<page name>"`')
            if self.to is not None:
                raise ValueError("`to` belongs to redirect replies; a page reply names `page`")
            if self.status is not None and not 100 <= self.status <= 599:
                raise PydanticCustomError(
                    str(Code.INVALID_STATUS),
                    "status {status} is not an HTTP status (100-599)",
                    {"status": self.status},
                )
        else:
            if self.to is None:
                raise ValueError('a redirect reply needs `to = "<url or path>"`')
            if self.page is not None:
                raise ValueError("`page` belongs to page replies; a redirect reply names `to`")
            if self.status is not None and not 300 <= self.status <= 399:
                raise PydanticCustomError(
                    str(Code.INVALID_STATUS),
                    "a redirect needs a status from 300 to 399, not {status}",
                    {"status": self.status},
                )
        return self


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


def _check_size(text: str) -> str:
    parse_size(text)
    return text


Duration = Annotated[str, AfterValidator(_check_duration)]
Size = Annotated[str, AfterValidator(_check_size)]


class ProjectInfo(Table):
    name: Name = Field(description=f"The project's name ({NAME_RULE}); `application.name` in templates.")


class Settings(Table):
    cors: bool = Field(
        default=True, description="Answer CORS preflights and add Access-Control-Allow-Origin."
    )
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description='Origins echoed in Access-Control-Allow-Origin; ["*"] for any.',
    )
    response_headers: dict[str, str] = Field(
        default_factory=dict, description="Headers added to every reply, errors and preflights included."
    )
    globals: dict[str, Any] = Field(
        default_factory=dict, description="Values templates and workflows read as `globals`."
    )
    not_found_reply: Reply | None = Field(
        default=None, description='The reply when no route matches (default: 404 {"error": "Not found"}).'
    )
    unauthorized_reply: Reply | None = Field(
        default=None, description="The reply to an unauthorized request when its endpoint sets none."
    )
    request_timeout: Duration = Field(
        default=DEFAULT_REQUEST_TIMEOUT,
        description='How long the workflows of one request may run ("30s", "500ms", "2m"); then 504.',
    )
    max_body_size: Size = Field(
        default=DEFAULT_MAX_BODY_SIZE,
        description='The largest request body accepted ("1MB", "512KB"); a larger one is answered 413.',
    )


class Auth(Table):
    """User tokens. Only the NAME of the environment variable holding the secret lives in git."""

    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        default="EPCTL_SECRET",
        description="The environment variable holding the token secret (never a file).",
    )
    issuer: str | None = Field(default=None, description="The `iss` claim tokens must carry, when set.")


class ApiKey(Table):
    """An API key, stored as the sha256 hex digest of the key: the key itself is never in a file."""

    name: Name = Field(description=f"The key's name ({NAME_RULE}).")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="The sha256 hex digest of the key; the key itself is never stored."
    )
    endpoints: list[str] = Field(
        default_factory=lambda: ["*"], description='Endpoint ids the key may call; ["*"] for all.'
    )


class Environment(Table):
    version: VersionName = Field(description="The frozen version this environment serves.")
    root: Annotated[str, StringConstraints(pattern=r"^(/|(/[A-Za-z0-9._~-]+)*)$")] = Field(
        default="", description='A path prefix the environment is served under, such as "/api" ("/": none).'
    )
    hosts: list[str] = Field(
        default_factory=list, description="Host names served this version by `serve --all`."
    )


def check_suppressible(code: str) -> str:
    """Return `code` when a project may suppress it; raise the `invalid-value` problem otherwise."""
    why = explain_unsuppressible(code)
    if why is not None:
        raise PydanticCustomError(str(Code.INVALID_VALUE), why)
    return code


# A warning code: editors complete the codes a suppression accepts from the schema's enum.
SuppressibleCode = Annotated[
    str,
    AfterValidator(check_suppressible),
    WithJsonSchema({"type": "string", "enum": sorted(SUPPRESSIBLE_CODES)}),
]


class Lint(Table):
    """Suppressions: warnings a project has decided to accept. Errors stop serving and cannot be."""

    ignore: list[SuppressibleCode] = Field(
        default_factory=list, description='Warning codes never reported, e.g. ["no-reply"].'
    )
    per_file_ignores: dict[str, list[SuppressibleCode]] = Field(
        default_factory=dict,
        description='Warning codes not reported in matching files: { "endpoints/legacy/**" = ["no-reply"] }.',
    )


class Endpoint(Table):
    id: Name = Field(description=f"Unique in the project: {NAME_RULE}.")
    method: Method = Field(description="The HTTP method (HEAD is served by GET routes).")
    route: RoutePath = Field(
        description='The path, hapi syntax: "/devices/{id}", "{p?}", "{p*2}", "{rest*}".'
    )
    description: str = Field(default="", description="An internal note, never shown to callers.")
    summary: str = Field(default="", description="Public text: the operation's summary in `epctl openapi`.")
    enabled: bool = Field(
        default=True, description="A disabled endpoint is not routed; its path answers 503."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Labels passed to workflows.")
    access: Access = Field(default="public", description="Who may call it: public, authenticated or groups.")
    groups: list[str] = Field(default_factory=list, description='The groups allowed when access = "groups".')
    api_key: bool = Field(default=False, description="Require a valid API key as well.")
    reply: Reply | None = Field(default=None, description="A static reply; without one, workflows reply.")
    unauthorized_reply: Reply | None = Field(
        default=None, description="The reply to an unauthorized request (default: the settings' one)."
    )

    def __repr__(self) -> str:
        # Reads like werkzeug's Rule repr, so logs and test failures name the route at a glance.
        return f"<Endpoint {self.method} {self.route} ({self.id})>"


class Templated(Table):
    """A table whose content is a template: a file beside the TOML, or an inline `body`."""

    name: Name = Field(description=f"Unique among its kind: {NAME_RULE}.")
    template: str | None = Field(
        default=None, description="A Jinja template file, relative to this TOML file."
    )
    body: str | None = Field(default=None, description="The template inline, instead of `template`.")

    @model_validator(mode="after")
    def check_one_source(self) -> Templated:
        if (self.template is None) == (self.body is None):
            raise ValueError('set exactly one of `template = "<file>"` or `body = """..."""`')
        return self


class Page(Templated):
    layout: str | None = Field(default=None, description="The layout that wraps this page.")
    content_type: str = Field(default="text/html; charset=utf-8", description="The reply's Content-Type.")


class Layout(Templated):
    pass


class Component(Templated):
    pass


class Workflow(Table):
    name: Name = Field(description=f"Unique among workflows: {NAME_RULE}.")
    handler: Annotated[str, StringConstraints(pattern=r"^[^:]+\.py:[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        description='"file.py:function", the file relative to this TOML file.'
    )
    endpoints: list[str] = Field(default_factory=list, description="The endpoint ids that trigger it.")

    @property
    def handler_file(self) -> str:
        return self.handler.rpartition(":")[0]

    @property
    def handler_function(self) -> str:
        return self.handler.rpartition(":")[2]


# Which array-of-tables each folder holds, and the model of one table of each.
TABLES_BY_FOLDER: dict[str, dict[str, type[Table]]] = {
    "endpoints": {"endpoint": Endpoint},
    "pages": {"page": Page, "layout": Layout, "component": Component},
    "workflows": {"workflow": Workflow},
}
