"""`epctl new endpoint|page|workflow`: the wizard, run with flags and once through a terminal."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from tests.conftest import MakeClient, run, usage_error

API_HEADER = "# The JSON API used by the mobile app.\n"


def new(runner: CliRunner, root: Path, *args: str) -> None:
    result = run(runner, root, "new", *args)
    assert result.exit_code == 0, result.output
    assert "no problems" in result.stderr


def test_new_page_endpoint_validates_and_serves(
    runner: CliRunner, sample: Path, make_client: MakeClient, secret: str
) -> None:
    new(runner, sample, "endpoint", "--kind", "page", "--route", "/about", "--id", "about", "--yes")
    site = (sample / "endpoints" / "site.toml").read_text(encoding="utf-8")
    assert site.startswith("# Pages of the web site.\n")
    assert site.endswith(
        '\n\n[[endpoint]]\nid = "about"\nmethod = "GET"\nroute = "/about"\n'
        'reply = { type = "page", page = "about" }\n'
    )
    pages = (sample / "pages" / "site.toml").read_text(encoding="utf-8")
    assert pages.endswith(
        '\n\n[[page]]\nname = "about"\nlayout = "main"\ntemplate = "templates/about.html"\n'
    )
    response = make_client(sample).get("/about")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "<h1>about</h1>" in text and "This is the about page of smart-farm." in text
    assert "<footer>" in text  # wrapped in the project's layout


def test_new_api_endpoint_validates_and_serves(
    runner: CliRunner, sample: Path, make_client: MakeClient, secret: str
) -> None:
    new(runner, sample, "endpoint", "--kind", "api", "--route", "/api/status/{part}", "--yes")
    api = (sample / "endpoints" / "api.toml").read_text(encoding="utf-8")
    assert api.startswith(API_HEADER)
    assert api.endswith(
        '[[endpoint]]\nid = "api-status-part"\nmethod = "GET"\nroute = "/api/status/{part}"\n'
    )
    workflows = (sample / "workflows" / "api.toml").read_text(encoding="utf-8")
    assert workflows.endswith(
        '\n\n[[workflow]]\nname = "api-status-part"\nhandler = "api.py:api_status_part"\n'
        'endpoints = ["api-status-part"]\n'
    )
    handlers = (sample / "workflows" / "api.py").read_text(encoding="utf-8")
    assert "def not_found(request):" in handlers  # appended to, not replaced
    response = make_client(sample).get("/api/status/disk")
    assert response.status_code == 200
    assert response.get_json() == {"endpoint": "api-status-part", "params": {"part": "disk"}}


def test_new_custom_endpoint_with_groups_validates_and_serves(
    runner: CliRunner, sample: Path, make_client: MakeClient, secret: str, sample_token: object
) -> None:
    new(
        runner,
        sample,
        "endpoint",
        "--kind",
        "custom",
        "--method",
        "post",
        "--route",
        "/hooks/{name}",
        "--id",
        "hook",
        "--access",
        "groups",
        "--group",
        "admins",
        "--file",
        "endpoints/hooks.toml",
        "--yes",
    )
    assert (sample / "endpoints" / "hooks.toml").read_text(encoding="utf-8") == (
        '[[endpoint]]\nid = "hook"\nmethod = "POST"\nroute = "/hooks/{name}"\naccess = "groups"\n'
        'groups = ["admins"]\n'
    )
    assert 'handler = "hooks.py:hook"' in (sample / "workflows" / "hooks.toml").read_text(encoding="utf-8")
    client = make_client(sample)
    assert client.post("/hooks/x").status_code == 302  # the project's unauthorized reply: to /login
    token = sample_token("ann", ["admins"])  # type: ignore[operator]
    response = client.post("/hooks/x", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.get_json()) == (501, {"error": "not implemented yet"})


def test_new_page_and_workflow(runner: CliRunner, sample: Path) -> None:
    new(runner, sample, "page", "--name", "faq", "--yes")
    assert (sample / "pages" / "templates" / "faq.html").is_file()
    new(runner, sample, "workflow", "--name", "audit-home", "--endpoint", "home", "--yes")
    usage = run(runner, sample, "usage", "home")
    assert "audit-home" in usage.stdout


def test_new_endpoint_refuses_what_would_not_validate(runner: CliRunner, sample: Path) -> None:
    before = {p: p.read_bytes() for p in sample.rglob("*") if p.is_file()}
    conflict = run(runner, sample, "new", "endpoint", "--kind", "api", "--route", "/devices/{id}", "--yes")
    assert conflict.exit_code == 2
    assert usage_error(conflict) == (
        "Invalid value for --route: GET /devices/{id} conflicts with GET /devices/{deviceId}/{attribute?} "
        '(endpoint "device-attribute", endpoints/site.toml:33): both would match the same requests; '
        "choose another route"
    )
    taken = run(runner, sample, "new", "endpoint", "--kind", "api", "--route", "/x", "--id", "home", "--yes")
    assert usage_error(taken) == 'Invalid value for --id: endpoint "home" already exists; choose another name'
    missing = run(runner, sample, "new", "endpoint", "--route", "/x")
    assert usage_error(missing) == (
        "Invalid value for --kind: missing: give --kind (nothing is asked with --yes or when stdin is "
        "not a terminal)"
    )
    assert {p: p.read_bytes() for p in sample.rglob("*") if p.is_file()} == before


# A prompt that is never answered would wait forever: the timeouts make that a failure.
@pytest.mark.timeout(60)
def test_new_endpoint_interactively_through_a_terminal(
    sample: Path, make_client: MakeClient, secret: str
) -> None:
    epctl = shutil.which("epctl", path=str(Path(sys.executable).parent))
    assert epctl is not None
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
    child = pexpect.spawn(
        epctl, ["--project", str(sample), "new", "endpoint"], env=env, encoding="utf-8", timeout=20
    )
    try:
        child.expect_exact("What should it do? display a page, return data for an API, or custom: ")
        child.sendline("api")
        child.expect_exact("Method [GET]: ")
        child.sendline("")
        child.expect_exact("Route: ")
        child.sendline("/api/devices")  # taken by api-devices: refused as typed, asked again
        child.expect_exact('conflicts with GET /api/devices (endpoint "api-devices", endpoints/api.toml:6)')
        child.expect_exact("Route: ")
        child.sendline("/api/health")
        child.expect_exact("Endpoint id [api-health]: ")
        child.sendline("")
        child.expect_exact("Access (public, authenticated, groups) [public]: ")
        child.sendline("")
        child.expect_exact("Endpoints file [endpoints/api.toml]: ")
        child.sendline("")
        child.expect_exact("Write these changes? [Y/n]: ")
        child.sendline("y")
        child.expect_exact("no problems")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert make_client(sample).get("/api/health").get_json() == {"endpoint": "api-health", "params": {}}


def test_new_endpoint_json_routes_lists_it(runner: CliRunner, sample: Path) -> None:
    new(runner, sample, "endpoint", "--kind", "api", "--route", "/api/ping", "--yes")
    routes = json.loads(run(runner, sample, "routes", "--json").stdout)
    assert {"method": "GET", "route": "/api/ping", "endpoint": "api-ping"}.items() <= next(
        r for r in routes if r["endpoint"] == "api-ping"
    ).items()
