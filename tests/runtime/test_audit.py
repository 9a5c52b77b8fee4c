"""The security audit: each rule finds what it names, once, at the line that causes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from epctl.runtime.audit import RULES, Finding, audit_project
from epctl.schemas.loader import load_project
from epctl.schemas.version_file import load_version
from tests.conftest import SAMPLE, WriteProject
from tests.planted import AUDIT_PLANTED as PLANTED


def audit(root: Path) -> list[Finding]:
    return audit_project(load_project(root))


def summary(findings: list[Finding]) -> list[tuple[str, str, str, int | None]]:
    return [(f.rule.id, str(f.level), f.place.file, f.place.line) for f in findings]


def test_each_rule_reports_its_planted_finding_once(write_project: WriteProject) -> None:
    findings = audit(write_project(PLANTED))
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
    }


def test_secret_value_itself_never_appears_in_a_finding(write_project: WriteProject) -> None:
    findings = audit(write_project(PLANTED))
    assert all("correct horse" not in f.message for f in findings)


def test_sample_project_has_one_finding_its_public_api_catch_all() -> None:
    for version, file, line in (
        ("develop", "endpoints/api.toml", 47),
        ("v1.0.0", "versions/v1.0.0.toml", 106),
    ):
        findings = audit_project(load_version(SAMPLE, version))
        assert summary(findings) == [("public-catch-all", "warning", file, line)]
        assert findings[0].place.id == "api-not-found"


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
