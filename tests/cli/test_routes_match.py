"""`epctl routes`, `match`, `usage` and `init`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from werkzeug.test import Client

from epctl.cli.main import app
from epctl.runtime import create_app
from tests.conftest import SAMPLE, WriteProject, run, usage_error

FILES = {
    "endpoints/files.toml": """
        [[endpoint]]
        id = "file"
        method = "GET"
        route = "/files/{name}.{ext}"

        [[endpoint]]
        id = "file-json"
        method = "GET"
        route = "/files/{name}.json"

        [[endpoint]]
        id = "upload"
        method = "POST"
        route = "/files/{name}"

        [[endpoint]]
        id = "old"
        method = "GET"
        route = "/old"
        enabled = false
    """,
}


def test_match_mixed_segment_takes_the_greedy_first_param(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(FILES)
    result = run(runner, root, "match", "GET", "/files/a.b.json", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) | {"why": None, "reason": None} == {
        "method": "GET",
        "path": "/files/a.b.json",
        "endpoint": "file",
        "params": {"name": "a.b", "ext": "json"},
        "status": 200,
        "route": "/files/{name}.{ext}",
        "allowed": [],
        "file": "endpoints/files.toml",
        "line": 1,
        "why": None,
        "reason": None,
    }


def test_match_explains_why_the_winner_beat_the_other_candidates(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(FILES)
    result = run(runner, root, "match", "GET", "/files/a.json")
    assert result.exit_code == 0, result.output
    assert "GET /files/a.json → 200 file (endpoints/files.toml:1)" in result.stdout
    assert 'params  name = "a", ext = "json"' in result.stdout
    assert 'beat /files/{name}.json ("file-json")' in result.stdout


def test_match_other_method_only_is_405_with_allowed(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(FILES)
    result = json.loads(run(runner, root, "match", "GET", "/files/report", "--json").stdout)
    # Exactly what the server's `Allow` header lists.
    assert (result["status"], result["endpoint"], result["allowed"]) == (405, None, ["OPTIONS", "POST"])


def test_match_allowed_is_the_servers_allow_header_with_cors_off(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project({**FILES, "epctl.toml": '[project]\nname = "t"\n[settings]\ncors = false\n'})
    result = json.loads(run(runner, root, "match", "OPTIONS", "/files/report", "--json").stdout)
    assert (result["status"], result["allowed"]) == (405, ["POST"])
    app = create_app(root)
    response = Client(app).options("/files/report")
    assert (response.status_code, response.headers["Allow"]) == (405, "POST")


def test_match_disabled_endpoint_is_503(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(FILES)
    result = json.loads(run(runner, root, "match", "GET", "/old", "--json").stdout)
    assert (result["status"], result["endpoint"]) == (503, "old")


def test_match_unknown_path_is_404_and_bad_encoding_400(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(FILES)
    assert json.loads(run(runner, root, "match", "GET", "/nope", "--json").stdout)["status"] == 404
    assert json.loads(run(runner, root, "match", "POST", "/files/%FF", "--json").stdout)["status"] == 400


def test_match_stdin_prints_one_json_object_a_line(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(FILES)
    result = run(runner, root, "match", "-", input="GET /files/a.csv\nPOST /files/x\n\nDELETE /files/x\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["endpoint"], x["status"]) for x in lines] == [("file", 200), ("upload", 200), (None, 405)]


def test_match_stdin_answers_a_bad_line_with_an_error_and_goes_on(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(FILES)
    result = run(runner, root, "match", "-", input="GET\nFETCH /files/x\nPOST /files/x\n")
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    methods = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
    assert lines[:2] == [
        {"line": 1, "input": "GET", "error": "expected 'METHOD PATH', got 'GET'"},
        {"line": 2, "input": "FETCH /files/x", "error": f"'FETCH' is not one of {methods}"},
    ]
    assert (lines[2]["endpoint"], lines[2]["status"]) == ("upload", 200)
    assert result.stderr.splitlines() == [
        "Error: stdin line 1: expected 'METHOD PATH', got 'GET'",
        f"Error: stdin line 2: 'FETCH' is not one of {methods}",
    ]


def test_match_rejects_an_unknown_method(runner: CliRunner) -> None:
    result = run(runner, SAMPLE, "match", "FETCH", "/")
    assert result.exit_code == 2
    assert usage_error(result) == (
        "Invalid value for METHOD: 'FETCH' is not one of GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
    )


@pytest.mark.parametrize(
    ("method", "path", "endpoint", "params"),
    [
        ("GET", "/", "home", {}),
        ("GET", "/devices/tank-1", "device-attribute", {"deviceId": "tank-1"}),
        (
            "GET",
            "/devices/tank-1/reading",
            "device-attribute",
            {"deviceId": "tank-1", "attribute": "reading"},
        ),
        ("GET", "/api/exports/readings.csv", "api-export", {"name": "readings", "ext": "csv"}),
        ("GET", "/api/devices", "api-devices", {}),
        ("GET", "/api/anything/else", "api-not-found", {"rest": "anything/else"}),
        ("HEAD", "/login", "login", {}),
    ],
)
def test_sample_routes_match(runner: CliRunner, method: str, path: str, endpoint: str, params: dict) -> None:
    result = json.loads(run(runner, SAMPLE, "match", method, path, "--json").stdout)
    assert (result["endpoint"], result["params"], result["status"]) == (endpoint, params, 200)


def test_routes_lists_match_order_with_disabled_last(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(FILES)
    result = run(runner, root, "routes", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["method"], r["route"], r["enabled"]) for r in rows] == [
        ("GET", "/files/{name}.{ext}", True),
        ("GET", "/files/{name}.json", True),
        ("POST", "/files/{name}", True),
        ("GET", "/old", False),
    ]


def test_routes_table_for_people(runner: CliRunner) -> None:
    result = run(runner, SAMPLE, "routes")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header == ["METHOD", "ROUTE", "ENDPOINT", "ACCESS", "REPLY", "ENABLED"]
    assert "groups admins" in result.stdout


def test_usage_lists_workflows_and_pages(runner: CliRunner) -> None:
    result = run(runner, SAMPLE, "usage", "device-attribute")
    assert result.exit_code == 0, result.output
    assert "show-device  workflows/devices.py:show_device" in result.stdout
    assert "device  via workflow show-device" in result.stdout
    assert "not-found  via workflow show-device" in result.stdout


def test_usage_of_an_unknown_endpoint_suggests(runner: CliRunner) -> None:
    result = run(runner, SAMPLE, "usage", "device-atribute")
    assert result.exit_code == 1
    assert 'no endpoint "device-atribute" in this project; did you mean "device-attribute"?' in result.stderr


def test_init_creates_a_project_that_validates(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "new-site"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    check = run(runner, target, "validate", "--strict")
    assert check.exit_code == 0, check.output
    routes = json.loads(run(runner, target, "routes", "--json").stdout)
    assert {r["reply"] for r in routes} == {"page home", "page login", "page admin", "workflows"}


def test_init_refuses_an_existing_project(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(app, ["init", str(tmp_path)])
    before = (tmp_path / "epctl.toml").read_text()
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert (tmp_path / "epctl.toml").read_text() == before


def test_routes_lists_a_wildcard_below_the_literal_route_that_beats_it(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(
        {
            "endpoints/api.toml": """
                [[endpoint]]
                id = "catch-all"
                method = "GET"
                route = "/api/{any*}"

                [[endpoint]]
                id = "status"
                method = "GET"
                route = "/api/v1/status"
            """,
            "workflows/api.toml": """
                [[workflow]]
                name = "status"
                handler = "api.py:status"
                endpoints = ["status"]
            """,
            "workflows/api.py": "def status(request):\n    return None\n",
        }
    )
    rows = json.loads(run(runner, root, "routes", "--json").stdout)
    assert [(r["route"], r["reply"]) for r in rows] == [
        ("/api/v1/status", "workflows"),
        ("/api/{any*}", "none"),
    ]
    assert (
        json.loads(run(runner, root, "match", "GET", "/api/v1/status", "--json").stdout)["endpoint"]
        == "status"
    )
    table = run(runner, root, "routes").stdout.splitlines()
    assert [line.split()[1:5:3] for line in table[1:]] == [
        ["/api/v1/status", "workflows"],
        ["/api/{any*}", "none"],
    ]
