"""Security audit of one version: rules with stable ids and levels, findings with file and line.

Validation says whether a project can be served; the audit says where serving it as written is risky
(a public write, an open redirect, a secret in `globals`). Each rule is one function over a loaded
project, so develop and frozen versions are audited alike. Endpoint rules look at enabled endpoints
only: a disabled one is not served, and enabling it is a change the next audit sees. The signature
rules read version files as `verify` does: develop's audit every file under versions/, a frozen
version's its own. The rules themselves (ids, levels, help) are in schemas/audit_rules.py.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jinja2
import tomli
from jinja2 import meta

from epctl.runtime.version_store import list_version_names
from epctl.schemas.audit_rules import (
    AUDIT_RULES,
    BAD_SIGNATURE,
    CORS_WILDCARD,
    GROUPS_2XX,
    HTML_HEADERS,
    NO_REPLY,
    PUBLIC_CATCH_ALL,
    PUBLIC_WRITE,
    REDIRECT_FROM_PARAMS,
    SECRET_GLOBAL,
    UNSIGNED_VERSION,
    Level,
    Rule,
)
from epctl.schemas.loader import load_trusted_keys
from epctl.schemas.models import Endpoint, Reply, TrustedKey, route_of
from epctl.schemas.positions import KeyLines
from epctl.schemas.problems import EpctlError, Place
from epctl.schemas.project import Project
from epctl.schemas.signing import SIGNATURE_KEY, check_signature
from epctl.schemas.suppressions import Suppression, Suppressions
from epctl.schemas.version_file import VersionError, read_version_text, verify_document

__all__ = [
    "RULES",
    "AuditReport",
    "Finding",
    "Level",
    "Rule",
    "SuppressedFinding",
    "audit_project",
    "partition_findings",
]


@dataclass(frozen=True, slots=True)
class Finding:
    """One place where a rule applies."""

    rule: Rule
    message: str
    place: Place

    @property
    def level(self) -> Level:
        return self.rule.level

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "rule": self.rule.id,
            "severity": str(self.rule.level),
            "message": self.message,
            **self.place.to_dict(),
            "help": self.rule.help,
        }


@dataclass(frozen=True, slots=True)
class SuppressedFinding:
    """A finding the project accepts, and what says so (as `validate`'s suppressed warnings)."""

    finding: Finding
    by: Suppression

    def to_dict(self) -> dict[str, object]:
        return {**self.finding.to_dict(), "suppressed_by": self.by.to_dict()}


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Findings to report and findings suppressed, each ordered by file, line and rule id."""

    findings: list[Finding]
    suppressed: list[SuppressedFinding]


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TEMPLATE_START = re.compile(r"\{[{%#]")
# An absolute URL whose host is written out and ended, so nothing after it can change the origin.
_ABSOLUTE_WITH_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\\{]+[/?#]")
_PARSER = jinja2.Environment()

# Names that say "this is a secret", compared with `_` and `-` removed and lowercased.
SECRET_NAMES = (
    "secret",
    "password",
    "passwd",
    "pwd",
    "token",
    "apikey",
    "privatekey",
    "accesskey",
    "credential",
)
# Values that are secrets whatever their name: private keys, cloud and SaaS tokens, JWTs, URLs with a
# password. Every pattern is linear in the text, so a long value cannot make the audit slow.
SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\b[sr]k_(?:live|test)_[0-9A-Za-z]{10,}"
    r"|\bgh[pousr]_[0-9A-Za-z]{30,}"
    r"|\bxox[abprs]-[0-9A-Za-z-]{10,}"
    r"|\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}"
    r"|://[^/@\s:]+:[^/@\s]+@"
)
# A long run of key-like characters with letters and digits mixed and high entropy: a random key.
_KEY_LIKE = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX_RUN = re.compile(r"[0-9a-f]+|[0-9A-F]+")
MIN_KEY_ENTROPY = 3.8  # bits per character of a base64-like run of 32+; random ones measure 4 and more
MIN_HEX_ENTROPY = 3.0  # hex has 16 symbols: random runs of 32+ measure 3.5 and more
MAX_KEY_VOWELS = 0.3  # share of vowels among the letters of a base64-like run
MAX_GLOBALS_DEPTH = 16  # globals nested deeper than this are not walked (TOML files never need it)


Check = Callable[[Project, "Places"], Iterator[Finding]]


class Places:
    """Where to point a finding: an endpoint's key, or a key of the version's config file."""

    def __init__(self, project: Project) -> None:
        self.project = project
        version_file = project.version_file
        # Develop's settings are in epctl.toml; a frozen version holds them in its one file.
        self.config_file = (
            "epctl.toml" if version_file is None else version_file.relative_to(project.root).as_posix()
        )

    def endpoint(self, endpoint: Endpoint, subkey: str = "") -> Place:
        return self.project.declarations.place("endpoint", endpoint.id, subkey)

    def config(self, key: str) -> Place:
        return self.project.declarations.locate(self.config_file, key)


def check_public_writes(project: Project, places: Places) -> Iterator[Finding]:
    for endpoint in _enabled(project):
        if endpoint.method in WRITE_METHODS and endpoint.access == "public" and not endpoint.api_key:
            yield Finding(
                PUBLIC_WRITE,
                f'{endpoint.method} {endpoint.route} (endpoint "{endpoint.id}") is public and needs no API '
                'key: anyone can call it; set access = "authenticated" or api_key = true',
                places.endpoint(endpoint, "method"),
            )


def check_public_catch_alls(project: Project, places: Places) -> Iterator[Finding]:
    for endpoint in _enabled(project):
        if route_of(endpoint.route).catch_all and endpoint.access == "public" and not endpoint.api_key:
            prefix = endpoint.route[: endpoint.route.rindex("/") + 1]
            yield Finding(
                PUBLIC_CATCH_ALL,
                f'{endpoint.method} {endpoint.route} (endpoint "{endpoint.id}") answers every path under '
                f"{prefix} to anyone; narrow the route or require a user or an API key",
                places.endpoint(endpoint, "route"),
            )


def check_cors_wildcard(project: Project, places: Places) -> Iterator[Finding]:
    settings = project.settings
    if not settings.cors or "*" not in settings.allowed_origins:
        return
    with_users = sum(endpoint.access != "public" for endpoint in _enabled(project))
    if with_users:
        endpoints = "1 endpoint that needs" if with_users == 1 else f"{with_users} endpoints that need"
        yield Finding(
            CORS_WILDCARD,
            f'allowed_origins = ["*"] lets any site call this version from a browser, and its {endpoints} a '
            "user accept the token from the `authorization` cookie; list the sites that may call it "
            '(allowed_origins = ["https://..."])',
            places.config("settings.allowed_origins"),
        )


def check_group_refusals(project: Project, places: Places) -> Iterator[Finding]:
    version_reply = project.settings.unauthorized_reply
    for endpoint in _enabled(project):
        if endpoint.access != "groups":
            continue
        own = endpoint.unauthorized_reply
        reply = own or version_reply
        if reply is None or reply.type != "page" or reply.status is None or not 200 <= reply.status <= 299:
            continue
        if own is not None:
            where, place = "its unauthorized_reply", places.endpoint(endpoint, "unauthorized_reply.status")
        else:
            at = places.config("settings.unauthorized_reply.status")
            where, place = (
                f"the version's unauthorized_reply ({at.file}:{at.line})",
                places.endpoint(endpoint, "access"),
            )
        yield Finding(
            GROUPS_2XX,
            f'endpoint "{endpoint.id}" is for groups {", ".join(endpoint.groups)} but {where} refuses with '
            f"status {reply.status}; leave the status out (401/403) or redirect",
            place,
        )


def check_redirects(project: Project, places: Places) -> Iterator[Finding]:
    settings = project.settings
    for key in ("not_found_reply", "unauthorized_reply"):
        reply: Reply | None = getattr(settings, key)
        if reply is not None and _is_open_redirect(reply):
            yield _redirect_finding(reply, f"settings.{key}", places.config(f"settings.{key}.to"))
    for endpoint in _enabled(project):
        for key in ("reply", "unauthorized_reply"):
            reply = getattr(endpoint, key)
            if reply is not None and _is_open_redirect(reply):
                where = f'endpoint "{endpoint.id}" {key}'
                yield _redirect_finding(reply, where, places.endpoint(endpoint, f"{key}.to"))


def _redirect_finding(reply: Reply, where: str, place: Place) -> Finding:
    return Finding(
        REDIRECT_FROM_PARAMS,
        f'{where} redirects to "{reply.to}", whose start comes from the request: a link can send users to '
        'another site; start the target with a fixed path ("/...") or a full URL with its host',
        place,
    )


def _is_open_redirect(reply: Reply) -> bool:
    """Return whether a redirect's target renders request data before its origin is settled."""
    if reply.type != "redirect" or reply.to is None:
        return False
    try:
        used = meta.find_undeclared_variables(_PARSER.parse(reply.to))
    except jinja2.TemplateSyntaxError:
        return False  # not a template that can be served; loading the version reports it
    if "request" not in used:
        return False
    prefix = _TEMPLATE_START.split(reply.to, maxsplit=1)[0]
    return not _origin_fixed(prefix)


def _origin_fixed(prefix: str) -> bool:
    """Return whether a target starting with the literal `prefix` keeps its scheme and host, whatever
    follows: `/devices/` and `https://example.com/` do; ``, `/`, `//`, `https://example.com` and
    `java` (which can become `javascript:`) do not."""
    if _ABSOLUTE_WITH_HOST.match(prefix):
        return True
    if prefix[:1] in ("/", "\\"):
        # `//host` and `/\host` are read by browsers as another host.
        return len(prefix) >= 2 and prefix[1] not in "/\\"
    # A relative target is settled once a '/', '?' or '#' comes before any ':' (no scheme can form).
    first = re.search(r"[/?#:]", prefix)
    return first is not None and first.group() != ":"


def check_html_headers(project: Project, places: Places) -> Iterator[Finding]:
    html_pages = [
        name
        for name, page in project.pages.items()
        if page.content_type.split(";")[0].strip().lower() == "text/html"
    ]
    if not html_pages:
        return
    headers = {name.lower(): value for name, value in project.settings.response_headers.items()}
    missing = []
    if headers.get("x-content-type-options", "").strip().lower() != "nosniff":
        missing.append("X-Content-Type-Options: nosniff")
    if "x-frame-options" not in headers and "frame-ancestors" not in headers.get(
        "content-security-policy", ""
    ):
        missing.append("X-Frame-Options (or a Content-Security-Policy with frame-ancestors)")
    if missing:
        yield Finding(
            HTML_HEADERS,
            f"response_headers lack {' and '.join(missing)}, which HTML pages need (this version has "
            f"{len(html_pages)}); add them to [settings] response_headers",
            places.config("settings.response_headers"),
        )


def check_replies(project: Project, places: Places) -> Iterator[Finding]:
    triggered = {eid for workflow in project.workflows.values() for eid in workflow.endpoints}
    for endpoint in _enabled(project):
        if endpoint.reply is None and endpoint.id not in triggered:
            yield Finding(
                NO_REPLY,
                f'endpoint "{endpoint.id}" has no reply and no workflow: it answers every request with 500; '
                "add a reply table or a workflow",
                places.endpoint(endpoint),
            )


def check_globals(project: Project, places: Places) -> Iterator[Finding]:
    for key, reason in _secret_like(project.settings.globals, "", 0):
        # The value itself is never repeated: the report may end up in CI logs.
        yield Finding(
            SECRET_GLOBAL,
            f"globals.{key} {reason}; globals are shown to templates and workflows and frozen into versions "
            "in git: keep the secret in an environment variable",
            places.config(f"settings.globals.{key}"),
        )


def _secret_like(value: object, key: str, depth: int) -> Iterator[tuple[str, str]]:
    """Yield (key path, why) for every value under `value` that looks like a secret."""
    if depth > MAX_GLOBALS_DEPTH:
        return
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _secret_like(item, f"{key}.{name}" if key else str(name), depth + 1)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_like(item, f"{key}[{index}]", depth + 1)
        return
    if not isinstance(value, str) or not value:
        return
    last_name = re.sub(r"(?:\[\d+\])+$", "", key).rsplit(".", 1)[-1]  # `db.hosts[0]` -> `hosts`
    normalized = last_name.lower().replace("_", "").replace("-", "")
    if SECRET_VALUE.search(value):
        yield key, "holds a value shaped like a key, token or password"
    elif any(word in normalized for word in SECRET_NAMES) and "://" not in value:
        yield key, f'is named like a secret ("{last_name}")'
    elif _looks_random(value):
        yield key, "holds a long random-looking value, like a key"


def _looks_random(value: str) -> bool:
    """Return whether `value` holds a run that reads like a random key rather than words.

    A heuristic: 32+ hex digits with letters among them, or 32+ base64 characters with upper and lower
    case and digits, high entropy, and fewer vowels than words have (about 2 in 10 letters of a random
    run are vowels, nearer 4 in 10 in English and in identifiers made of words).
    """
    for match in _KEY_LIKE.finditer(value):
        run = match.group()
        if _HEX_RUN.fullmatch(run):
            if re.search(r"[A-Fa-f]", run) and re.search(r"[0-9]", run) and _entropy(run) >= MIN_HEX_ENTROPY:
                return True
            continue
        if _UUID.fullmatch(run) or not all(re.search(kind, run) for kind in ("[A-Z]", "[a-z]", "[0-9]")):
            continue
        letters = [c for c in run if c.isalpha()]
        vowels = sum(c in "aeiouAEIOU" for c in letters) / len(letters)
        if _entropy(run) >= MIN_KEY_ENTROPY and vowels < MAX_KEY_VOWELS:
            return True
    return False


def _entropy(text: str) -> float:
    """Return the Shannon entropy of `text` in bits per character."""
    return -sum(n / len(text) * math.log2(n / len(text)) for n in Counter(text).values())


def _enabled(project: Project) -> Iterator[Endpoint]:
    return (endpoint for endpoint in project.endpoints if endpoint.enabled)


def check_signatures(project: Project, places: Places) -> Iterator[Finding]:
    """Find versions that serve, promote and restore would refuse for their signature: develop's
    audit looks at every version file, a frozen version's at its own file."""
    trusted = load_trusted_keys(project.root)
    names = list_version_names(project.root) if project.version_file is None else [project.version]
    for name in names:
        read = _read_version(project, name)
        if read is not None:
            yield from _signature_findings(*read, trusted)


def _read_version(project: Project, name: str) -> tuple[str, str, dict[str, Any]] | None:
    """Return the file, text and document of version `name`, or None when it cannot be read as TOML:
    `validate --version` and `verify` report those, and an audit is not the place to repeat them."""
    try:
        path, text = read_version_text(project.root, name)
        document = tomli.loads(text)
    except (EpctlError, tomli.TOMLDecodeError, RecursionError):
        return None
    return path.relative_to(project.root).as_posix(), text, document


def _signature_findings(
    file: str, text: str, document: dict[str, Any], trusted: tuple[TrustedKey, ...]
) -> Iterator[Finding]:
    lines = KeyLines(text)
    signed = SIGNATURE_KEY in document
    try:
        verify_document(file, document)
    except VersionError:
        if signed:
            # The signature covers the recorded digest, which no longer describes the content.
            yield Finding(
                BAD_SIGNATURE,
                f"{file} is signed, but its content does not match the digest the signature covers: it was "
                "changed after it was signed; restore it from git",
                Place(file, lines.line_of("digest"), "digest"),
            )
            return
    status = check_signature(document, trusted)
    if status.state == "bad":
        yield Finding(
            BAD_SIGNATURE,
            f"{file} has a {status.detail}: it was changed after it was signed; restore it from git",
            Place(file, lines.line_of(SIGNATURE_KEY), SIGNATURE_KEY),
        )
    elif trusted and not status.ok:
        # Unsigned versions point at their digest, the line a signature would follow.
        key = SIGNATURE_KEY if signed else "digest"
        why = (
            f"is {status.detail}"
            if signed
            else "is unsigned, and epctl.toml lists trusted keys ([[trusted_key]])"
        )
        yield Finding(
            UNSIGNED_VERSION,
            f"{file} {why}: serve, promote and restore refuse it; freeze a signed version with "
            "`epctl snapshot NAME --sign KEY`",
            Place(file, lines.line_of(key), key),
        )


# Every rule with its check, in the order the README lists them (AUDIT_RULES' order).
CHECKS: tuple[tuple[Rule, Check], ...] = (
    (PUBLIC_WRITE, check_public_writes),
    (PUBLIC_CATCH_ALL, check_public_catch_alls),
    (CORS_WILDCARD, check_cors_wildcard),
    (GROUPS_2XX, check_group_refusals),
    (REDIRECT_FROM_PARAMS, check_redirects),
    (HTML_HEADERS, check_html_headers),
    (NO_REPLY, check_replies),
    (SECRET_GLOBAL, check_globals),
    (UNSIGNED_VERSION, check_signatures),
    (BAD_SIGNATURE, check_signatures),
)
RULES: dict[str, Rule] = dict(AUDIT_RULES)


def audit_project(project: Project) -> list[Finding]:
    """Return every finding of every rule on `project`, ordered by file, line and rule id.

    Raises ProjectError only when epctl.toml's [[trusted_key]] tables cannot be read (a frozen
    version is read without them; develop's load has checked them already).
    """
    places = Places(project)
    checks = dict.fromkeys(check for _, check in CHECKS)  # one check may find two rules: run it once
    findings = [finding for check in checks for finding in check(project, places)]
    return sorted(findings, key=lambda f: (f.place.file, f.place.line or 0, f.rule.id, f.message))


def partition_findings(project: Project, findings: list[Finding]) -> AuditReport:
    """Return `findings` split into those to report and those the project suppresses, by the same
    `[lint]` keys and `# epctl: ignore[rule-id]` comments as `validate`'s warnings."""
    suppressions = Suppressions(project)
    reported: list[Finding] = []
    suppressed: list[SuppressedFinding] = []
    for finding in findings:
        by = suppressions.find(finding.rule.id, finding.place)
        if by is None:
            reported.append(finding)
        else:
            suppressed.append(SuppressedFinding(finding, by))
    return AuditReport(reported, suppressed)
