"""The security audit's rules: stable ids, levels and help, one table for every consumer.

`epctl audit` (runtime/audit.py) pairs each rule with the check that finds it; suppressions
(`[lint]`, `# epctl: ignore[rule-id]`) accept these ids beside validate's warning codes; README's
"Security audit" table lists them all and a test keeps the two equal. Kept in schemas, with no
check, so that the `[lint]` model can tell a rule id from a typo without importing the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["AUDIT_RULES", "Level", "Rule"]


class Level(StrEnum):
    """How much a finding matters; `--fail-on` picks the lowest level that fails the audit."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Return 2 for error, 1 for warning, 0 for info: higher is more serious."""
        return {Level.ERROR: 2, Level.WARNING: 1, Level.INFO: 0}[self]


@dataclass(frozen=True, slots=True)
class Rule:
    """One audit rule: a stable kebab-case id users can grep and suppress by, a level, and help."""

    id: str
    level: Level
    title: str
    help: str


PUBLIC_WRITE = Rule(
    "public-write-without-key",
    Level.WARNING,
    "Public write endpoint without an API key",
    "A public POST, PUT, PATCH or DELETE endpoint lets anyone change data. Require a user "
    '(access = "authenticated" or "groups") or an API key (api_key = true).',
)
PUBLIC_CATCH_ALL = Rule(
    "public-catch-all",
    Level.WARNING,
    "Public catch-all route",
    "A public route ending in {p*} answers every path under its prefix, including paths nobody "
    "reviewed. Narrow the route, or require a user or an API key.",
)
CORS_WILDCARD = Rule(
    "cors-wildcard-with-cookie",
    Level.WARNING,
    'CORS allows every origin ("*") while user tokens are accepted from a cookie',
    'allowed_origins = ["*"] lets any site call the version from a browser, and endpoints that need a '
    "user accept the token from the `authorization` cookie. List the sites that may call it.",
)
GROUPS_2XX = Rule(
    "groups-unauthorized-2xx",
    Level.ERROR,
    "Group endpoint refuses with a 2xx status",
    "A refused request answered with a 2xx status looks like success to clients and caches. Leave "
    "the page reply's status out (401/403 by default) or use a redirect.",
)
REDIRECT_FROM_PARAMS = Rule(
    "redirect-from-params",
    Level.ERROR,
    "Redirect target built from the request before its origin is fixed",
    "A redirect whose scheme or host can come from the request sends users wherever a link says (an "
    'open redirect). Start the target with a fixed path ("/devices/...") or a full URL with its host.',
)
HTML_HEADERS = Rule(
    "html-missing-security-headers",
    Level.WARNING,
    "HTML pages without the basic protective headers",
    "HTML pages need X-Content-Type-Options: nosniff and X-Frame-Options (or a Content-Security-Policy "
    "with frame-ancestors) in [settings] response_headers, against MIME sniffing and clickjacking.",
)
NO_REPLY = Rule(
    "endpoint-without-reply",
    Level.INFO,
    "Endpoint with no reply",
    "An endpoint with no static reply and no workflow answers every request with 500. Add a reply "
    "table or a workflow, or disable it.",
)
SECRET_GLOBAL = Rule(
    "secret-like-global",
    Level.ERROR,
    "Secret-like value in globals",
    "globals are rendered into pages and passed to every workflow, and are frozen into versions in git. "
    "Keep secrets in environment variables and read them in the workflow that needs them.",
)
UNSIGNED_VERSION = Rule(
    "unsigned-version-with-trusted-keys",
    Level.WARNING,
    "Version not signed by a trusted key, where epctl.toml lists trusted keys",
    "epctl.toml lists [[trusted_key]] signers, so serve, promote and restore refuse a version that none "
    "of them signed (unsigned, or signed by another key). Freeze a signed one with `epctl snapshot NAME "
    "--sign KEY`, add the signer's public key if you trust it, or remove the version file.",
)
BAD_SIGNATURE = Rule(
    "bad-version-signature",
    Level.ERROR,
    "Version whose signature does not vouch for its content",
    "The signature does not verify against the version's digest, or the content no longer matches the "
    "digest the signature covers: the file was changed after it was signed. epctl refuses to serve, "
    "promote or restore it, trusted keys listed or not. Restore the file from git.",
)

# Every rule, in the order README lists them.
AUDIT_RULES: Mapping[str, Rule] = MappingProxyType(
    {
        rule.id: rule
        for rule in (
            PUBLIC_WRITE,
            PUBLIC_CATCH_ALL,
            CORS_WILDCARD,
            GROUPS_2XX,
            REDIRECT_FROM_PARAMS,
            HTML_HEADERS,
            NO_REPLY,
            SECRET_GLOBAL,
            UNSIGNED_VERSION,
            BAD_SIGNATURE,
        )
    }
)
