"""`epctl snapshot`, `versions`, `diff`, `verify`, `promote`, `restore` and `validate --version`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import run, usage_error


def test_snapshot_then_list_and_show(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "snapshot", "v1.1.0", "--description", "second release")
    assert result.exit_code == 0, result.output
    assert "Froze develop as v1.1.0: versions/v1.1.0.toml (13 endpoints, sha256:" in result.stderr
    listed = json.loads(run(runner, sample, "versions", "--json").stdout)
    assert [(v["name"], v["description"], v["endpoints"], v["verified"]) for v in listed] == [
        ("v1.0.0", "First release of the Smart Farm experience", 13, True),
        ("v1.1.0", "second release", 13, True),
    ]
    shown = json.loads(run(runner, sample, "versions", "show", "v1.1.0", "--json").stdout)
    assert "GET /devices/{deviceId}/{attribute?} (device-attribute)" in shown["endpoints"]
    assert "workflows/devices.py" in shown["files"]


def test_snapshot_refusals_write_nothing(runner: CliRunner, sample: Path) -> None:
    assert run(runner, sample, "snapshot", "v1").exit_code == 0
    before = (sample / "versions" / "v1.toml").read_bytes()
    again = run(runner, sample, "snapshot", "v1")
    assert again.exit_code == 1
    assert (
        'Error: version "v1" already exists (versions/v1.toml); versions are never overwritten'
        in again.stderr
    )
    develop = run(runner, sample, "snapshot", "develop")
    assert develop.exit_code == 2
    assert '"develop" is the live, editable version' in develop.stderr
    (sample / "endpoints" / "bad.toml").write_text('[[endpoint]]\nid = "bad"\nmethod = "GET"\nroute = "x"\n')
    invalid = run(runner, sample, "snapshot", "v2")
    assert invalid.exit_code == 1
    assert "invalid-route" in invalid.stderr
    assert sorted(p.name for p in (sample / "versions").iterdir()) == ["v1.0.0.toml", "v1.toml"]
    assert (sample / "versions" / "v1.toml").read_bytes() == before


# If serving ever accepted the tampered version, `serve` would block: the timeout makes that a failure.
@pytest.mark.timeout(30)
def test_verify_names_a_tampered_version_and_serving_refuses_it(runner: CliRunner, sample: Path) -> None:
    run(runner, sample, "snapshot", "v1")
    run(runner, sample, "snapshot", "v2")
    assert run(runner, sample, "verify").exit_code == 0
    path = sample / "versions" / "v1.toml"
    path.write_text(path.read_text().replace('method = "POST"', 'method = "PUT"'))
    result = run(runner, sample, "verify")
    assert result.exit_code == 1
    assert "FAILED  v1: versions/v1.toml does not match its digest" in result.stderr
    assert "ok      v2" in result.stderr
    served = run(runner, sample, "serve", "--version", "v1", "--port", "0")
    assert served.exit_code == 1
    assert "Error: versions/v1.toml does not match its digest" in served.stderr


def test_diff_exit_codes_and_access_widened(runner: CliRunner, sample: Path) -> None:
    run(runner, sample, "snapshot", "v1")
    same = run(runner, sample, "diff", "v1", "develop")
    assert same.exit_code == 0, same.output
    site = sample / "endpoints" / "site.toml"
    site.write_text(
        site.read_text().replace(
            'id = "device-list"\nmethod = "GET"\nroute = "/devices"\naccess = "authenticated"',
            'id = "device-list"\nmethod = "GET"\nroute = "/devices"\naccess = "public"',
        )
    )
    changed = run(runner, sample, "diff", "v1", "develop")
    assert changed.exit_code == 1
    assert '~ endpoint device-list: access "authenticated" → "public"' in changed.stdout
    assert "access widened:" in changed.stdout
    assert "! endpoint device-list: access authenticated → public" in changed.stdout
    report = json.loads(run(runner, sample, "diff", "v1", "develop", "--json").stdout)
    assert report["access_widened"] == ["endpoint device-list: access authenticated → public"]


def test_diff_of_an_unknown_version_is_an_error(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "diff", "v9", "develop")
    assert result.exit_code == 2
    assert 'no version "v9"' in result.stderr


def test_promote_keeps_comments_and_reports_the_move(runner: CliRunner, sample: Path) -> None:
    run(runner, sample, "snapshot", "v2")
    result = run(runner, sample, "promote", "v2", "--env", "production")
    assert result.exit_code == 0, result.output
    assert "production → v2 (was v1.0.0)" in result.stderr
    text = (sample / "epctl.toml").read_text()
    assert 'version = "v2"' in text and "# Smart Farm: a device-monitoring experience" in text
    unknown = run(runner, sample, "promote", "v3", "--env", "production")
    assert unknown.exit_code == 2


def test_validate_and_match_a_frozen_version(runner: CliRunner, sample: Path) -> None:
    run(runner, sample, "snapshot", "v1")
    site = sample / "endpoints" / "site.toml"
    site.write_text(site.read_text().replace('route = "/login"', 'route = "/sign-in"'))
    assert run(runner, sample, "validate", "--version", "v1").exit_code == 0
    matched = json.loads(run(runner, sample, "match", "GET", "/login", "--version", "v1", "--json").stdout)
    assert matched["endpoint"] == "login"
    assert json.loads(run(runner, sample, "match", "GET", "/login", "--json").stdout)["status"] == 404


def test_restore_refuses_then_forces_with_a_backup(runner: CliRunner, sample: Path) -> None:
    run(runner, sample, "snapshot", "v1")
    home = sample / "pages" / "templates" / "home.html"
    original = home.read_text()
    home.write_text("edited\n")
    refused = run(runner, sample, "restore", "v1")
    assert refused.exit_code == 1
    assert "rerun with --force" in refused.stderr
    forced = run(runner, sample, "restore", "v1", "--force")
    assert forced.exit_code == 0, forced.output
    [backup] = (sample / ".epctl" / "backups").iterdir()
    assert forced.stderr.splitlines() == [
        f"Copied the 1 develop file it replaces into .epctl/backups/{backup.name}/",
        "Restored v1 into develop: 1 file written",
    ]
    assert (backup / "pages" / "templates" / "home.html").read_text() == "edited\n"
    assert home.read_text() == original


def test_serve_options_are_exclusive(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "serve", "--version", "v1", "--all")
    assert result.exit_code == 2
    assert usage_error(result) == (
        "Invalid value for --version/--env/--all: choose one of --version, --env and --all"
    )


def test_snapshot_of_a_name_over_the_limit_names_the_limit_and_writes_nothing(
    runner: CliRunner, sample: Path
) -> None:
    """Versions accept exactly the names environments can point at (1-128 characters)."""
    before = sorted(p.name for p in (sample / "versions").iterdir())
    result = run(runner, sample, "snapshot", "v" * 200)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        'Error: "vvvvvvvvvvvvvvvvvvvvvvvv…" is not a valid version name: it has 200 characters, and a '
        "version name has at most 128"
    )
    assert sorted(p.name for p in (sample / "versions").iterdir()) == before
    assert run(runner, sample, "snapshot", "v" * 128).exit_code == 0
    assert run(runner, sample, "validate").exit_code == 0


def test_promote_to_an_unknown_environment_is_refused_unless_create(runner: CliRunner, sample: Path) -> None:
    before = (sample / "epctl.toml").read_text()
    refused = run(runner, sample, "promote", "v1.0.0", "--env", "qa")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        'Error: no environment "qa" in epctl.toml (known: production); check the name, or pass --create '
        "to add it"
    )
    assert (sample / "epctl.toml").read_text() == before
    created = run(runner, sample, "promote", "v1.0.0", "--env", "qa", "--create")
    assert created.exit_code == 0, created.output
    assert created.stderr.strip() == "qa → v1.0.0 (new environment)"


def test_reload_with_workers_is_refused_with_the_reason(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "serve", "--workers", "2", "--reload")
    assert result.exit_code == 2
    assert usage_error(result) == (
        "Invalid value for --reload: --reload serves develop in one process; with --workers, --version, "
        "--env or --all the app is built once at start: restart the server to serve changes"
    )


@pytest.mark.timeout(30)
def test_serve_says_serving_only_once_the_app_is_built(runner: CliRunner, sample: Path) -> None:
    (sample / "endpoints" / "site.toml").write_text("[[endpoint]\nbroken")
    result = run(runner, sample, "serve", "--port", "0")
    assert result.exit_code == 1
    assert "Serving" not in result.stderr
    assert "TOML syntax error" in result.stderr
