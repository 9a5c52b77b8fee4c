"""The security audit: each rule finds what it names, once, at the line that causes it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from epctl.runtime.audit import CHECKS, RULES, Finding, audit_project
from epctl.runtime.version_store import freeze_version
from epctl.schemas.loader import load_project
from epctl.schemas.version_file import load_version, read_version
from tests.cli.test_signed_versions import make_key, trust
from tests.conftest import SAMPLE, WriteProject
from tests.planted import AUDIT_PLANTED as PLANTED
from tests.planted import plant_signed_versions


def audit(root: Path) -> list[Finding]:
    return audit_project(load_project(root))


def summary(findings: list[Finding]) -> list[tuple[str, str, str, int | None]]:
    return [(f.rule.id, str(f.level), f.place.file, f.place.line) for f in findings]


def test_each_rule_reports_its_planted_finding_once(write_project: WriteProject) -> None:
    root = write_project(PLANTED)
    plant_signed_versions(root)
    findings = audit(root)
    assert sorted(f.rule.id for f in findings) == sorted(RULES)
    assert summary(findings) == [
        ("public-write-without-key", "warning", "endpoints/e.toml", 3),
        ("public-catch-all", "warning", "endpoints/e.toml", 10),
        ("groups-unauthorized-2xx", "error", "endpoints/e.toml", 20),
        ("redirect-from-params", "error", "endpoints/e.toml", 26),
        ("endpoint-without-reply", "info", "endpoints/e.toml", 28),
        ("cors-wildcard-with-cookie", "warning", "epctl.toml", 5),
        ("html-missing-security-headers", "warning", "epctl.toml", 6),
        ("secret-like-global", "error", "epctl.toml", 7),
        ("unsigned-version-with-trusted-keys", "warning", "versions/v1.toml", 5),
        ("bad-version-signature", "error", "versions/v2.toml", 15),
    ]
    messages = {f.rule.id: f.message for f in findings}
    assert messages == {
        "public-write-without-key": 'POST /subscribe (endpoint "subscribe") is public and needs no API key: '
        'anyone can call it; set access = "authenticated" or api_key = true',
        "public-catch-all": 'GET /files/{path*} (endpoint "files") answers every path under /files/ to '
        "anyone; narrow the route or require a user or an API key",
        "groups-unauthorized-2xx": 'endpoint "admin" is for groups admins but its unauthorized_reply refuses '
        "with status 200; leave the status out (401/403) or redirect",
        "redirect-from-params": 'endpoint "go" reply redirects to "{{ request.query.next }}", whose start '
        "comes from the request: a link can send users to another site; start the target with a fixed "
        'path ("/...") or a full URL with its host',
        "endpoint-without-reply": 'endpoint "todo" has no reply and no workflow: it answers every request '
        "with 500; add a reply table or a workflow",
        "cors-wildcard-with-cookie": 'allowed_origins = ["*"] lets any site call this version from a '
        "browser, and its 1 endpoint that needs a user accept the token from the `authorization` cookie; "
        'list the sites that may call it (allowed_origins = ["https://..."])',
        "html-missing-security-headers": "response_headers lack X-Frame-Options (or a "
        "Content-Security-Policy with frame-ancestors), which HTML pages need (this version has 1); add "
        "them to [settings] response_headers",
        "secret-like-global": 'globals.db_password is named like a secret ("db_password"); globals are '
        "shown to templates and workflows and frozen into versions in git: keep the secret in an "
        "environment variable",
        "unsigned-version-with-trusted-keys": "versions/v1.toml is unsigned, and epctl.toml lists trusted "
        "keys ([[trusted_key]]): serve, promote and restore refuse it; freeze a signed version with "
        "`epctl snapshot NAME --sign KEY`",
        "bad-version-signature": "versions/v2.toml has a bad signature: it does not match the version's "
        "digest: it was changed after it was signed; restore it from git",
    }


def test_secret_value_itself_never_appears_in_a_finding(write_project: WriteProject) -> None:
    findings = audit(write_project(PLANTED))
    assert all("correct horse" not in f.message for f in findings)


def test_sample_project_has_one_finding_its_public_api_catch_all() -> None:
    """And develop one more: its sign-in form is a public POST, as a sign-in form must be (the two are
    found here; develop's files suppress both with a comment, see test_contract_commands)."""
    for version, file, line in (
        ("develop", "endpoints/api.toml", 48),
        ("v1.0.0", "versions/v1.0.0.toml", 106),
    ):
        findings = audit_project(load_version(SAMPLE, version))
        assert summary(findings)[0] == ("public-catch-all", "warning", file, line)
        assert findings[0].place.id == "api-not-found"
        if version == "develop":
            assert summary(findings)[1:] == [
                ("public-write-without-key", "warning", "endpoints/session.toml", 6)
            ]
            assert findings[1].place.id == "sign-in"
        else:
            assert len(findings) == 1


def test_disabled_endpoints_are_not_audited(write_project: WriteProject) -> None:
    root = write_project(
        {"endpoints/e.toml": '[[endpoint]]\nid = "off"\nmethod = "DELETE"\nroute = "/x"\nenabled = false\n'}
    )
    assert audit(root) == []


def test_version_refusal_with_2xx_points_at_each_group_endpoint(write_project: WriteProject) -> None:
    root = write_project(
        {
            "epctl.toml": """
                [project]
                name = "t"
                [settings]
                allowed_origins = ["https://farm.example.com"]
                unauthorized_reply = { type = "page", page = "login", status = 200 }
            """,
            "endpoints/e.toml": """
                [[endpoint]]
                id = "admin"
                method = "GET"
                route = "/admin"
                access = "groups"
                groups = ["admins"]
                reply = { type = "redirect", to = "/" }
            """,
            "pages/p.toml": '[[page]]\nname = "login"\ncontent_type = "text/plain"\nbody = "sign in"\n',
        }
    )
    [finding] = audit(root)
    assert (finding.rule.id, finding.place.file, finding.place.line) == (
        "groups-unauthorized-2xx",
        "endpoints/e.toml",
        5,
    )
    assert finding.message == (
        'endpoint "admin" is for groups admins but the version\'s unauthorized_reply (epctl.toml:5) refuses '
        "with status 200; leave the status out (401/403) or redirect"
    )


@pytest.mark.parametrize(
    ("to", "open_redirect"),
    [
        ("{{ request.query.next }}", True),
        ("/{{ request.params.path }}", True),  # `//evil.example` is another host
        ("https://{{ request.headers.host }}/x", True),
        ("https://example.com{{ request.path }}", True),  # `.evil.example` extends the host
        ("java{{ request.query.x }}", True),  # can become `javascript:`
        ("/login?next={{ request.path | urlencode }}", False),
        ("/devices/{{ request.params.id }}", False),
        ("https://example.com/{{ request.query.q }}", False),
        ("{{ globals.home }}", False),  # not from the request
        ("/static", False),
    ],
)
def test_redirect_is_open_when_the_request_can_set_its_origin(
    write_project: WriteProject, to: str, open_redirect: bool
) -> None:
    reply = f"reply = {{ type = 'redirect', to = '{to}' }}"
    root = write_project(
        {"endpoints/e.toml": f'[[endpoint]]\nid = "r"\nmethod = "GET"\nroute = "/r"\n{reply}\n'}
    )
    assert [f.rule.id for f in audit(root)] == (["redirect-from-params"] if open_redirect else [])


def test_version_redirects_are_audited_at_their_settings_line(write_project: WriteProject) -> None:
    root = write_project(
        {
            "epctl.toml": """
                [project]
                name = "t"
                [settings]
                not_found_reply = { type = "redirect", to = "{{ request.query.back }}" }
            """
        }
    )
    [finding] = audit(root)
    assert (finding.rule.id, finding.place.line) == ("redirect-from-params", 4)
    assert finding.message.startswith('settings.not_found_reply redirects to "{{ request.query.back }}"')


@pytest.mark.parametrize(
    ("globals", "flagged"),
    [
        ('{ api_token = "abc" }', ["api_token"]),
        ('{ stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc" }', ["stripe"]),
        ('{ db = { url = "postgresql://farm:hunter2@db.internal/farm" } }', ["db.url"]),
        ('{ keys = ["fine", "AKIAIOSFODNN7EXAMPLE"] }', ["keys[1]"]),
        ('{ signing = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }', ["signing"]),
        ('{ blob = "q8Xz2Lr7VbN0kTw5Hc1GyP4mJd9sFe6A" }', ["blob"]),
        ('{ support = "help@example.com", site = "https://farm.example.com/" }', []),
        (
            '{ slug = "smart-farm-monitoring-dashboard-2025", id = "123e4567-e89b-12d3-a456-426614174000" }',
            [],
        ),
        ('{ token_url = "https://auth.example.com/token", retries = 3, token_ttl = 60 }', []),
    ],
)
def test_secret_like_globals_are_found_by_name_or_shape(
    write_project: WriteProject, globals: str, flagged: list[str]
) -> None:
    root = write_project({"epctl.toml": f'[project]\nname = "t"\n[settings]\nglobals = {globals}\n'})
    keys = [f.message.split(" ", 1)[0].removeprefix("globals.") for f in audit(root)]
    assert keys == flagged


def test_frame_ancestors_policy_counts_as_framing_protection(write_project: WriteProject) -> None:
    root = write_project(
        {
            "epctl.toml": """
                [project]
                name = "t"
                [settings]
                [settings.response_headers]
                x-content-type-options = "nosniff"
                Content-Security-Policy = "frame-ancestors 'none'"
            """,
            "pages/p.toml": '[[page]]\nname = "home"\nbody = "hi"\n',
        }
    )
    assert audit(root) == []


def test_cors_wildcard_is_fine_without_endpoints_that_need_a_user(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/e.toml": '[[endpoint]]\nid = "a"\nmethod = "GET"\nroute = "/a"\napi_key = true\n'
            'reply = { type = "redirect", to = "/" }\n'
        }
    )
    assert audit(root) == []


# -- signatures -------------------------------------------------------------------------------------


def test_unsigned_versions_are_findings_only_where_keys_are_trusted(sample: Path, tmp_path: Path) -> None:
    assert "unsigned-version-with-trusted-keys" not in [f.rule.id for f in audit(sample)]
    trust(sample, make_key(tmp_path / "keys")[1])
    [finding] = [f for f in audit(sample) if f.rule.id == "unsigned-version-with-trusted-keys"]
    assert (finding.level, finding.place.file, finding.place.line, finding.place.key) == (
        "warning",
        "versions/v1.0.0.toml",
        5,
        "digest",
    )


def test_a_version_signed_by_a_key_not_trusted_is_a_finding_at_its_signature(
    sample: Path, tmp_path: Path
) -> None:
    trust(sample, make_key(tmp_path / "ours")[1])
    other, _ = make_key(tmp_path / "theirs")
    freeze_version(sample, "v2", sign=other)
    [finding] = [f for f in audit(sample) if f.place.file == "versions/v2.toml"]
    assert (finding.rule.id, finding.place.key) == ("unsigned-version-with-trusted-keys", "signature")
    assert finding.message.startswith("versions/v2.toml is signed by SHA256:")
    assert finding.message.endswith(
        ", which is not a [[trusted_key]]: serve, promote and restore refuse it; freeze a signed version "
        "with `epctl snapshot NAME --sign KEY`"
    )


def test_a_signed_version_edited_after_signing_is_a_bad_signature_trusted_keys_or_not(
    sample: Path, tmp_path: Path
) -> None:
    """Edited without recomputing the digest: the signature covers a digest the content no longer has."""
    key, _ = make_key(tmp_path / "keys")
    freeze_version(sample, "v2", sign=key)
    path = sample / "versions" / "v2.toml"
    path.write_text(path.read_text().replace('access = "groups"', 'access = "public"', 1))
    [finding] = [f for f in audit(sample) if f.place.file == "versions/v2.toml"]
    assert (finding.rule.id, finding.level, finding.place.line, finding.place.key) == (
        "bad-version-signature",
        "error",
        5,
        "digest",
    )
    assert finding.message == (
        "versions/v2.toml is signed, but its content does not match the digest the signature covers: it "
        "was changed after it was signed; restore it from git"
    )


def test_a_frozen_version_is_audited_for_its_own_signature(write_project: WriteProject) -> None:
    root = write_project(PLANTED)
    plant_signed_versions(root)
    for name, rule in (("v1", "unsigned-version-with-trusted-keys"), ("v2", "bad-version-signature")):
        project, _ = read_version(root, name)  # not load_version, which refuses both
        signatures = ("unsigned-version-with-trusted-keys", "bad-version-signature")
        found = [(f.rule.id, f.place.file) for f in audit_project(project) if f.rule.id in signatures]
        assert found == [(rule, f"versions/{name}.toml")]


def test_readme_lists_every_rule_with_its_level() -> None:
    readme = (SAMPLE.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Security audit\n", 1)[1].split("\n\n")[1]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (error|warning|info) \|", table, re.MULTILINE)
    assert rows == [(rule.id, str(rule.level)) for rule in RULES.values()]


def test_every_rule_has_a_check() -> None:
    assert [rule for rule, _ in CHECKS] == list(RULES.values())
