"""What the TOML means: one pydantic model per table of SPEC §1, with SPEC's defaults.

Models check what one table can check on its own (types, allowed values, key names). Checks that
need more than one table (a reply's page exists, ids are unique, routes do not clash) live in
`checks`, so each rule is stated once whether develop or a frozen version is being read.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from epctl.schemas.problems import Code
from epctl.schemas.routing import Method, Route, RouteSyntaxError, parse_route
from epctl.schemas.signing import parse_public_key

# One rule for every name a user gives: endpoint ids, table names, API key names, versions.
MAX_NAME_LENGTH = 128
NAME_RULE = f"1-{MAX_NAME_LENGTH} characters of A-Z a-z 0-9 . _ -"
NAME_PATTERN = rf"^[A-Za-z0-9._-]{{1,{MAX_NAME_LENGTH}}}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
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

    type: Literal["page", "redirect"]
    page: str | None = None
    to: str | None = None
    status: int | None = None

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


class ProjectInfo(Table):
    name: Name


class Settings(Table):
    cors: bool = True
    allowed_origins: list[str] = Field(default_factory=lambda: ["*"])
    response_headers: dict[str, str] = Field(default_factory=dict)
    globals: dict[str, Any] = Field(default_factory=dict)
    not_found_reply: Reply | None = None
    unauthorized_reply: Reply | None = None


class Auth(Table):
    """User tokens. Only the NAME of the environment variable holding the secret lives in git."""

    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "EPCTL_SECRET"
    issuer: str | None = None


class ApiKey(Table):
    """An API key, stored as the sha256 hex digest of the key: the key itself is never in a file."""

    name: Name
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    endpoints: list[str] = Field(default_factory=lambda: ["*"])


def check_public_key(text: str) -> str:
    """Return `text` when it holds an Ed25519 public key; raise ValueError saying what is accepted."""
    parse_public_key(text)
    return text


class TrustedKey(Table):
    """A signer whose versions this checkout serves, promotes and restores (see `signing`)."""

    name: Name
    public_key: Annotated[str, AfterValidator(check_public_key)]


class Environment(Table):
    version: VersionName
    root: Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9._~-]+)*$")] = ""
    hosts: list[str] = Field(default_factory=list)


class Endpoint(Table):
    id: Name
    method: Method
    route: RoutePath
    description: str = ""
    summary: str = ""
    enabled: bool = True
    tags: dict[str, str] = Field(default_factory=dict)
    access: Access = "public"
    groups: list[str] = Field(default_factory=list)
    api_key: bool = False
    reply: Reply | None = None
    unauthorized_reply: Reply | None = None

    def __repr__(self) -> str:
        # Reads like werkzeug's Rule repr, so logs and test failures name the route at a glance.
        return f"<Endpoint {self.method} {self.route} ({self.id})>"


class Templated(Table):
    """A table whose content is a template: a file beside the TOML, or an inline `body`."""

    name: Name
    template: str | None = None
    body: str | None = None

    @model_validator(mode="after")
    def check_one_source(self) -> Templated:
        if (self.template is None) == (self.body is None):
            raise ValueError('set exactly one of `template = "<file>"` or `body = """..."""`')
        return self


class Page(Templated):
    layout: str | None = None
    content_type: str = "text/html; charset=utf-8"


class Layout(Templated):
    pass


class Component(Templated):
    pass


class Workflow(Table):
    name: Name
    handler: Annotated[str, StringConstraints(pattern=r"^[^:]+\.py:[A-Za-z_][A-Za-z0-9_]*$")]
    endpoints: list[str] = Field(default_factory=list)

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
