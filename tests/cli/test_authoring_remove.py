"""`epctl remove endpoint ID [--with-workflows]`: Losant's delete, on a copy of the sample."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import WriteProject, run


def share_audit_log(sample: Path) -> None:
    """Make the sample's audit-log workflow run for api-me too, so one workflow is shared."""
    path = sample / "workflows" / "devices.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('endpoints = ["admin"]', 'endpoints = ["admin", "api-me"]'), encoding="utf-8"
    )


def test_remove_with_workflows_keeps_shared_ones_and_comments(runner: CliRunner, sample: Path) -> None:
    share_audit_log(sample)
    api = sample / "endpoints" / "api.toml"
    before = api.read_text(encoding="utf-8")
    devices_before = (sample / "workflows" / "devices.toml").read_text(encoding="utf-8")
    result = run(runner, sample, "remove", "endpoint", "api-me", "--with-workflows", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:3] == [
        '  - [[endpoint]] "api-me"  GET /api/me  endpoints/api.toml:31',
        '  - [[workflow]] "api-me"  workflows/api.toml:1  (only this endpoint triggered it; its handler '
        "workflows/api.py:who_am_i is left for you to delete)",
        '  ~ [[workflow]] "audit-log"  workflows/devices.toml:26: trigger removed (still triggered by admin)',
    ]
    assert "✓ smart-farm: 12 endpoints, 7 pages, 8 workflows; no problems" in result.stderr
    # Exactly the endpoint's lines are gone; the file's comment and every other table are as written.
    removed = (
        '[[endpoint]]\nid = "api-me"\nmethod = "GET"\nroute = "/api/me"\naccess = "authenticated"\n'
        'unauthorized_reply = { type = "page", page = "api-unauthorized" }\n\n'
    )
    assert api.read_text(encoding="utf-8") == before.replace(removed, "")
    assert before.startswith("# The JSON API used by the mobile app.\n")
    devices = (sample / "workflows" / "devices.toml").read_text(encoding="utf-8")
    assert devices == devices_before.replace('["admin", "api-me"]', '["admin"]')
    assert 'name = "api-me"' not in (sample / "workflows" / "api.toml").read_text(encoding="utf-8")
    assert "def who_am_i(request):" in (sample / "workflows" / "api.py").read_text(encoding="utf-8")
    validate = run(runner, sample, "validate", "--strict", "--format", "json")
    assert validate.exit_code == 0, validate.output
    assert json.loads(validate.stdout)["problems"] == []


def test_remove_without_the_flag_keeps_workflows_and_drops_api_key_grants(
    runner: CliRunner, sample: Path
) -> None:
    result = run(runner, sample, "remove", "endpoint", "api-devices", "--yes")
    assert result.exit_code == 0, result.output
    assert (
        '  ~ [[workflow]] "api-list-devices"  workflows/devices.toml:11: trigger removed (now triggered by '
        "no endpoint; --with-workflows removes such workflows)"
    ) in result.stderr
    assert '  ~ [[api_key]] "mobile-app"  epctl.toml:18: endpoint "api-devices" removed' in result.stderr
    config = (sample / "epctl.toml").read_text(encoding="utf-8")
    assert 'endpoints = ["api-device-readings"]' in config
    assert config.startswith("# Smart Farm: a device-monitoring experience, declared as code.\n")
    workflows = (sample / "workflows" / "devices.toml").read_text(encoding="utf-8")
    assert 'name = "api-list-devices"\nhandler = "devices.py:api_list_devices"\nendpoints = []\n' in workflows
    assert run(runner, sample, "validate", "--strict").exit_code == 0


def test_remove_asks_first_and_a_no_changes_nothing(runner: CliRunner, sample: Path) -> None:
    before = {p: p.read_bytes() for p in sample.rglob("*.toml")}
    result = run(runner, sample, "remove", "endpoint", "home", input="n\n")
    assert result.exit_code == 1
    assert "Remove? [y/N]: n" in result.output
    assert "Nothing removed." in result.stderr
    assert {p: p.read_bytes() for p in sample.rglob("*.toml")} == before
    answered = run(runner, sample, "remove", "endpoint", "old-dashboard", input="y\n")
    assert answered.exit_code == 0, answered.output
    assert 'id = "old-dashboard"' not in (sample / "endpoints" / "site.toml").read_text(encoding="utf-8")


def test_remove_unknown_endpoint_suggests(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "remove", "endpoint", "api-mee", "--yes")
    assert result.exit_code == 1
    assert 'Error: no endpoint "api-mee" in this project; did you mean "api-me"?' in result.stderr


def test_remove_refuses_a_layout_it_cannot_edit_safely(
    runner: CliRunner, write_project: WriteProject
) -> None:
    """An array written inline has no [[endpoint]] header to cut: the file is left alone."""
    inline = (
        'endpoint = [{ id = "a", method = "GET", route = "/a", reply = { type = "redirect", to = "/" } }]\n'
    )
    root = write_project({"endpoints/a.toml": inline})
    before = (root / "endpoints" / "a.toml").read_bytes()
    result = run(runner, root, "remove", "endpoint", "a", "--yes")
    assert result.exit_code == 1
    assert "Error: endpoints/a.toml: no [[endpoint]] number 1" in result.stderr
    assert (root / "endpoints" / "a.toml").read_bytes() == before
