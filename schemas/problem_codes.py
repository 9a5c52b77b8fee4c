"""What each problem code means, how severe it is, and which codes a project may suppress.

One table for every consumer: SARIF rules (their help text), the `[lint]` model and inline
`# epctl: ignore[code]` comments (which codes they accept: these warning codes and the audit's rule
ids). README's "Validation in CI" table says the same; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from epctl.schemas.audit_rules import AUDIT_RULES
from epctl.schemas.problems import Code, Severity, did_you_mean


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """How a code is reported and what it means, in one sentence a user reads in CI."""

    severity: Severity
    summary: str


_E, _W = Severity.ERROR, Severity.WARNING
CODE_INFO: Mapping[Code, CodeInfo] = MappingProxyType(
    {
        Code.TOML_SYNTAX: CodeInfo(_E, "the file is not valid TOML"),
        Code.ENCODING: CodeInfo(_E, "the file is not UTF-8 text"),
        Code.UNREADABLE_FILE: CodeInfo(
            _E, "a file could not be read (permissions, a folder where a file belongs)"
        ),
        Code.MISSING_FILE: CodeInfo(_E, "a template or handler file named by a table does not exist"),
        Code.PATH_ESCAPE: CodeInfo(
            _E, "a path points outside the project folder (a `../` path, or a symlink leading out)"
        ),
        Code.NOT_A_FILE: CodeInfo(
            _E, "a project file that is not a regular file (a folder, a device such as `/dev/zero`, a FIFO)"
        ),
        Code.FILE_TOO_LARGE: CodeInfo(
            _E, "a file over 16 MiB (the limit for every file epctl reads; a version file may hold 64 MiB)"
        ),
        Code.STATIC_TOO_LARGE: CodeInfo(
            _E, "`static/` holds more than a version file can (64 MiB, binary files base64-encoded)"
        ),
        Code.UNKNOWN_KEY: CodeInfo(_E, "a key or table epctl does not know (a typo is never ignored)"),
        Code.MISSING_KEY: CodeInfo(_E, "a required key or table is missing"),
        Code.NOT_AN_ARRAY: CodeInfo(_E, "`[endpoint]` written where `[[endpoint]]` belongs"),
        Code.INVALID_TYPE: CodeInfo(_E, "a value of the wrong TOML type"),
        Code.INVALID_VALUE: CodeInfo(
            _E, "a value outside what the key accepts (names, methods, access, ...)"
        ),
        Code.INVALID_STATUS: CodeInfo(
            _E, "a reply status that is not an HTTP status (or not 3xx for a redirect)"
        ),
        Code.INVALID_ROUTE: CodeInfo(_E, "a route that breaks the route syntax"),
        Code.ROUTE_CONFLICT: CodeInfo(_E, "two endpoints of one method that would match the same requests"),
        Code.DUPLICATE_ID: CodeInfo(_E, "two endpoints with one id"),
        Code.DUPLICATE_NAME: CodeInfo(
            _E, "two pages, layouts, components, workflows or API keys with one name"
        ),
        Code.DUPLICATE_API_KEY: CodeInfo(
            _E, "two API keys with one sha256 (the one key would get the scopes of both)"
        ),
        Code.UNKNOWN_PAGE: CodeInfo(_E, "a reply names a page that is not declared"),
        Code.UNKNOWN_LAYOUT: CodeInfo(_E, "a page names a layout that is not declared"),
        Code.UNKNOWN_COMPONENT: CodeInfo(_E, "a template includes a component that is not declared"),
        Code.UNKNOWN_ENDPOINT: CodeInfo(_E, "a workflow or API key names an endpoint that is not declared"),
        Code.UNKNOWN_HANDLER: CodeInfo(_E, "a handler file defines no function of the name a workflow gives"),
        Code.UNKNOWN_ASSET: CodeInfo(_E, '`static_url("name")` in a template names no file under `static/`'),
        Code.MISSING_GROUPS: CodeInfo(_E, '`access = "groups"` without `groups`'),
        Code.LAYOUT_SLOT: CodeInfo(_E, "a layout without exactly one `{% block content %}`"),
        Code.TEMPLATE_SYNTAX: CodeInfo(_E, "a template that does not compile"),
        Code.HANDLER_SYNTAX: CodeInfo(_E, "a handler file that is not valid Python"),
        Code.UNKNOWN_API_KEY: CodeInfo(
            _E, "a request case names an API key that `epctl.toml` does not declare"
        ),
        Code.INVALID_SCHEMA: CodeInfo(
            _E,
            "a `request_schema` or `response_schema` that is not JSON, not a valid JSON Schema (draft "
            "2020-12), refers outside itself, or (for the query) does not describe an object",
        ),
        Code.UNKNOWN_MODULE: CodeInfo(
            _E, "a file under `workflows/` imports a module that is neither a project file nor installed"
        ),
        Code.HANDLER_ERROR: CodeInfo(
            _E,
            "a handler file that raises when it is loaded to serve (only `serve` and `create_app` run code)",
        ),
        Code.SERVE_ERROR: CodeInfo(
            _E,
            "the development server could not rebuild develop (a missing secret, a deleted `epctl.toml`)",
        ),
        Code.NO_REPLY: CodeInfo(_W, "an endpoint with no reply and no workflow (it answers 500)"),
        Code.UNUSED_GROUPS: CodeInfo(_W, "`groups` set on an endpoint whose access is not `groups`"),
        Code.UNKNOWN_VERSION: CodeInfo(
            _W, "an environment points at a version not frozen yet (it is not served)"
        ),
        Code.UNSERVED_STATIC_FILE: CodeInfo(
            _W, "a file under `static/` of a type epctl does not serve (it is neither served nor frozen)"
        ),
    }
)

# Only warnings can be suppressed: an error stops `create_app` and `serve`, so hiding it from
# `validate` would only move the failure from CI to the deploy.
SUPPRESSIBLE_CODES: frozenset[Code] = frozenset(
    code for code, info in CODE_INFO.items() if info.severity is Severity.WARNING
)
# What `[lint]` and `# epctl: ignore[...]` accept: those warnings, and every audit rule (a finding
# stops nothing from being served: suppressing one is a decision the project records).
SUPPRESSIBLE: frozenset[str] = frozenset(SUPPRESSIBLE_CODES) | frozenset(AUDIT_RULES)


def explain_unsuppressible(code: str) -> str | None:
    """Return why `code` cannot be suppressed (not a code, or an error's), or None when it can."""
    if code in SUPPRESSIBLE:
        return None
    allowed = ", ".join(sorted(SUPPRESSIBLE_CODES))
    if code in CODE_INFO:
        return (
            f'"{code}" is an error and cannot be suppressed: errors stop serving, so fix it instead '
            f"(only warnings can be suppressed: {allowed})"
        )
    return f'"{code}" is not a problem code or audit rule' + (
        did_you_mean(code, [str(c) for c in Code] + list(AUDIT_RULES))
        or f" (codes that can be suppressed: {allowed}, and every rule of `epctl audit`)"
    )
