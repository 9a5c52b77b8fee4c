"""`routes --filter/--method/--access/--sort`, `usage --json`, and shell completion of project names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from epctl.cli.main import app
from tests.conftest import SAMPLE, run, usage_error


def routes(runner: CliRunner, *args: str) -> list[tuple[str, str, str]]:
    result = run(runner, SAMPLE, "routes", "--json", *args)
    assert result.exit_code == 0, result.output
    return [(r["method"], r["route"], r["endpoint"]) for r in json.loads(result.stdout)]


def test_routes_filter_method_and_sort() -> None:
    runner = CliRunner()
    assert routes(runner, "--filter", "DEVICES", "--method", "post") == [
        ("POST", "/api/devices", "api-create-device")
    ]
    assert routes(runner, "--filter", "devices", "--sort", "id") == [
        ("POST", "/api/devices", "api-create-device"),
        ("GET", "/api/devices/{deviceId}/readings", "api-device-readings"),
        ("GET", "/api/devices", "api-devices"),
        ("GET", "/devices/{deviceId}/{attribute?}", "device-attribute"),
        ("GET", "/devices", "device-list"),
    ]
    assert routes(runner, "--access", "groups", "--sort", "route") == [
        ("GET", "/admin", "admin"),
        ("POST", "/api/devices", "api-create-device"),
    ]
    by_file = json.loads(run(runner, SAMPLE, "routes", "--json", "--sort", "file").stdout)
    assert [(r["file"], r["line"]) for r in by_file][:2] == [
        ("endpoints/api.toml", 3),
        ("endpoints/api.toml", 10),
    ]
    assert [r["endpoint"] for r in by_file][-1] == "maintenance"


def test_routes_bad_filters_are_usage_errors(runner: CliRunner) -> None:
    method = run(runner, SAMPLE, "routes", "--method", "GOT")
    assert method.exit_code == 2
    assert usage_error(method) == (
        "Invalid value for '--method' / '-m': 'GOT' is not one of GET, POST, PUT, PATCH, DELETE, OPTIONS"
    )
    assert run(runner, SAMPLE, "routes", "--sort", "size").exit_code == 2


def test_usage_json(runner: CliRunner) -> None:
    result = run(runner, SAMPLE, "usage", "device-attribute", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "endpoint": {
            "id": "device-attribute",
            "method": "GET",
            "route": "/devices/{deviceId}/{attribute?}",
            "file": "endpoints/site.toml",
            "line": 30,
        },
        "workflows": [
            {
                "name": "show-device",
                "handler": "workflows/devices.py:show_device",
                "file": "workflows/devices.toml",
                "line": 6,
            }
        ],
        "pages": [
            {"name": "device", "via": ["workflow show-device"]},
            {"name": "not-found", "via": ["workflow show-device"]},
        ],
    }


def complete(runner: CliRunner, words: str, cwd: Path | None = None) -> list[str]:
    """Return what bash completion offers for the last word of `words` (typer's completion protocol)."""
    env = {
        "_EPCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    result = runner.invoke(app, [], env=env, prog_name="epctl")
    return result.stdout.split()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (f"epctl --project {SAMPLE} usage api-d", ["api-devices", "api-device-readings"]),
        (f"epctl --project {SAMPLE} remove endpoint ad", ["admin"]),
        (f"epctl --project {SAMPLE} diff ", ["develop", "v1.0.0"]),
        (f"epctl --project {SAMPLE} promote v1 --env ", ["production"]),
        (f"epctl --project {SAMPLE} serve --version ", ["v1.0.0"]),
        (f"epctl --project {SAMPLE} routes --version d", ["develop"]),
        ("epctl --project /nowhere usage ", []),
    ],
)
def test_completion_of_project_names(runner: CliRunner, words: str, expected: list[str]) -> None:
    assert complete(runner, words) == expected


def test_completion_finds_the_project_around_the_current_folder(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(SAMPLE / "endpoints")
    assert complete(runner, "epctl restore v") == ["v1.0.0"]


def test_completion_is_installed_by_a_documented_option(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout
