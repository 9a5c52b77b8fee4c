"""What the TOML means: one pydantic model per table (README "A project", "epctl.toml"), with its
defaults.

Models check what one table can check on its own (types, allowed values, key names). Checks that
need more than one table (a reply's page exists, ids are unique, routes do not clash) live in
`checks`, so each rule is stated once whether develop or a frozen version is being read.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from epctl.schemas.limits import DEFAULT_MAX_BODY_SIZE, DEFAULT_REQUEST_TIMEOUT, parse_duration, parse_size
from epctl.schemas.problem_codes import SUPPRESSIBLE, explain_unsuppressible
from epctl.schemas.problems import Code
from epctl.schemas.route_hints import describe_invalid_route
from epctl.schemas.routing import Method, Route, RouteSyntaxError, parse_route
from epctl.schemas.signing import parse_public_key
from epctl.schemas.static_files import DEFAULT_STATIC_PREFIX

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
        raise PydanticCustomError(str(Code.INVALID_ROUTE), describe_invalid_route(path, err)) from None
    return path


RoutePath = Annotated[str, AfterValidator(check_route)]


# The two parts of a request a `request_schema` table can name (README "Request and response schemas").
RequestPart = Literal["body", "query"]
REQUEST_PARTS: tuple[RequestPart, ...] = ("body", "query")


def check_schema_source(value: Any) -> Any:
    """Return `value` when it can name a JSON Schema: a file path (a string) or an inline table.

    Only the shape is checked here; whether the schema is valid is `validate`'s check across files.
    """
    if isinstance(value, str | dict):
        return value
    raise PydanticCustomError(
        str(Code.INVALID_TYPE),
        "a schema is the path of a JSON Schema file (a string) or an inline table, not {kind}",
        {"kind": _toml_kind(value)},
    )


def check_request_schema_source(value: Any) -> Any:
    """Return `value` when it names a request schema: one schema, or a table with a `body` and/or a
    `query` key naming one schema per part. Raise the problem otherwise."""
    check_schema_source(value)
    if isinstance(value, dict) and any(part in value for part in REQUEST_PARTS):
        for key, part in value.items():
            if key not in REQUEST_PARTS:
                raise PydanticCustomError(
                    str(Code.UNKNOWN_KEY),
                    'a request_schema table with "body" or "query" holds only those two keys, not "{key}"; '
                    "an inline schema goes under one of them",
                    {"key": key},
                )
            if not isinstance(part, str | dict):
                raise PydanticCustomError(
                    str(Code.INVALID_TYPE),
                    '"{key}" is the path of a JSON Schema file (a string) or an inline table, not {kind}',
                    {"key": key, "kind": _toml_kind(part)},
                )
    return value


def _toml_kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", list: "an array"}
    return names.get(type(value), "a date or time")


# A JSON Schema: the path of a `.json` file relative to the TOML file that names it, or an inline table.
SchemaSource = Annotated[str | dict[str, Any], BeforeValidator(check_schema_source)]
RequestSchemaSource = Annotated[str | dict[str, Any], BeforeValidator(check_request_schema_source)]


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
        else:
            if self.to is None:
                raise ValueError('a redirect reply needs `to = "<url or path>"`')
            if self.page is not None:
                raise ValueError("`page` belongs to page replies; a redirect reply names `to`")
        # The status range is checked with the page name (schemas/checks.py): a failing validator here
        # would drop the table, and with it every other problem of the reply.
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
    enforce_response_schema: bool = Field(
        default=False, description="Answer 500 when a reply fails its endpoint's response_schema."
    )
    # Segments that cannot start with a dot: no `.` or `..`, and no prefix a dotfile rule would hide.
    static_prefix: Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/$")] = (
        Field(
            default=DEFAULT_STATIC_PREFIX,
            description='The path the files of static/ are served under ("/static/", "/assets/").',
        )
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


def check_public_key(text: str) -> str:
    """Return `text` when it holds an Ed25519 public key; raise ValueError saying what is accepted."""
    parse_public_key(text)
    return text


class TrustedKey(Table):
    """A signer whose versions this checkout serves, promotes and restores (see `signing`)."""

    name: Name = Field(description=f"The signer's name, shown by `epctl verify` ({NAME_RULE}).")
    public_key: Annotated[str, AfterValidator(check_public_key)] = Field(
        description="The Ed25519 public key: its PEM text or the base64 body (`openssl pkey -pubout`)."
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


# A warning code or an audit rule id: editors complete what a suppression accepts from the schema's enum.
SuppressibleCode = Annotated[
    str,
    AfterValidator(check_suppressible),
    WithJsonSchema({"type": "string", "enum": sorted(SUPPRESSIBLE)}),
]


class Lint(Table):
    """Suppressions: warnings and audit findings a project has decided to accept. Validation errors
    stop serving and cannot be."""

    ignore: list[SuppressibleCode] = Field(
        default_factory=list,
        description='Warning codes and audit rule ids never reported, e.g. ["no-reply", "public-catch-all"].',
    )
    per_file_ignores: dict[str, list[SuppressibleCode]] = Field(
        default_factory=dict,
        description="Warning codes and audit rule ids not reported in matching files: "
        '{ "endpoints/legacy/**" = ["no-reply"] }.',
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
    request_schema: RequestSchemaSource | None = Field(
        default=None, description="JSON Schema a request's body (or query) must pass, else 400."
    )
    response_schema: SchemaSource | None = Field(
        default=None, description="JSON Schema the 2xx replies must pass (enforced per the settings)."
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


# -- request cases (`epctl test`, README "Request tests") -------------------------------------------

# A case name is read in test reports: free text, on one line.
MAX_CASE_NAME_LENGTH = 200
CaseMethod = Literal[Method, "HEAD"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_case_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_CASE_NAME_LENGTH or _CONTROL.search(name):
        raise PydanticCustomError(
            str(Code.INVALID_VALUE),
            f"a case name is 1-{MAX_CASE_NAME_LENGTH} characters on one line",
        )
    return name


def check_json_value(value: Any) -> Any:
    """Return `value` when JSON can hold it; a TOML date or time is refused."""
    try:
        json.dumps(value)
    except TypeError:
        raise PydanticCustomError(
            str(Code.INVALID_VALUE), "JSON has no dates or times: write this value as a string"
        ) from None
    return value


def check_query_value(value: Any) -> Any:
    if isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        return value
    raise PydanticCustomError(
        str(Code.INVALID_TYPE),
        'query values are strings, or arrays of strings for a repeated name: write limit = "5"',
    )


def listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def check_case_path(path: str) -> str:
    if not path.startswith("/") or re.search(r"[\s?#\x00-\x1f\x7f]", path):
        raise PydanticCustomError(
            str(Code.INVALID_VALUE),
            'path is the request path as sent, starting with "/", with no spaces; put the query '
            'in `query = { name = "value" }`',
        )
    return path


def check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as err:
        raise PydanticCustomError(
            str(Code.INVALID_VALUE),
            "body_matches is not a valid regular expression: {error}",
            {"error": str(err)},
        ) from None
    return pattern


CaseName = Annotated[str, AfterValidator(check_case_name)]
JsonValue = Annotated[Any, AfterValidator(check_json_value)]
QueryValue = Annotated[str | list[str], BeforeValidator(check_query_value)]


class CaseTable(Table):
    """A table of a request case: `json` is a key users write, and a name pydantic's BaseModel keeps."""

    model_config = ConfigDict(serialize_by_alias=True)


class CaseUser(Table):
    """The user a case signs in as: `epctl test` mints a token for these claims."""

    sub: Annotated[str, StringConstraints(min_length=1)] = Field(description="The user id (`sub`).")
    groups: list[str] = Field(default_factory=list, description="The user's groups.")


class Expect(CaseTable):
    """What a case expects of the reply; every key set is checked."""

    status: int | None = Field(default=None, description="The reply's status.")
    headers: dict[str, str] = Field(default_factory=dict, description="Headers the reply must have.")
    json_body: JsonValue = Field(
        default=None, alias="json", description="A JSON subset the body must hold (objects: keys given)."
    )
    # One string or several: the editors' schema says both, as the validator accepts both.
    body_contains: Annotated[
        list[str],
        BeforeValidator(listify),
        WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
    ] = Field(default_factory=list, description="Text (or texts) the body must contain.")
    body_matches: Annotated[str, AfterValidator(check_regex)] | None = Field(
        default=None, description="A regular expression searched in the first 1 MiB of the body."
    )
    redirect: str | None = Field(default=None, description="The Location of a 3xx reply.")

    @field_validator("status")
    @classmethod
    def check_status(cls, status: int | None) -> int | None:
        if status is not None and not 100 <= status <= 599:
            raise PydanticCustomError(
                str(Code.INVALID_STATUS),
                "status {status} is not an HTTP status (100-599)",
                {"status": status},
            )
        return status

    @model_validator(mode="after")
    def check_something_expected(self) -> Expect:
        if not self.model_fields_set:
            raise ValueError(
                "expect at least one of status, headers, json, body_contains, body_matches, redirect"
            )
        return self


class Case(CaseTable):
    """A request case of `tests/**/*.toml`: one request, and what its reply must be."""

    name: CaseName = Field(description="Free text, unique in the project.")
    method: CaseMethod = Field(default="GET", description="The request method (HEAD allowed).")
    path: Annotated[str, AfterValidator(check_case_path)] = Field(
        description="The path as sent; the query goes in `query`."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    query: dict[str, QueryValue] = Field(default_factory=dict, description="Query fields (arrays repeat).")
    json_body: JsonValue = Field(default=None, alias="json", description="A JSON body.")
    form: dict[str, str] | None = Field(default=None, description="A form body.")
    user: CaseUser | None = Field(default=None, description="Sign in as this user (a token is minted).")
    # The name of an [[api_key]]: `epctl test` stands in a key of its own.
    api_key: Name | None = Field(default=None, description="The NAME of an [[api_key]] to call with.")
    expect: Expect = Field(description="What the reply must be.")

    @model_validator(mode="after")
    def check_one_body(self) -> Case:
        if self.json_body is not None and self.form is not None:
            raise ValueError("set one of `json` and `form`: a request has one body")
        return self


# Which array-of-tables each folder holds, and the model of one table of each.
TABLES_BY_FOLDER: dict[str, dict[str, type[Table]]] = {
    "endpoints": {"endpoint": Endpoint},
    "pages": {"page": Page, "layout": Layout, "component": Component},
    "workflows": {"workflow": Workflow},
    "tests": {"case": Case},
}
