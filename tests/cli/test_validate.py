"""`epctl validate`: formats, exit codes, route conflicts across files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from epctl.cli.app import ProblemFormat
from epctl.cli.main import app
from tests.conftest import SAMPLE, WriteProject, usage_error
from tests.planted import EXPECTED, PLANTED

CONFLICT = {
    "endpoints/devices.toml": """
        [[endpoint]]
        id = "device"
        method = "GET"
        route = "/devices/{deviceId}"
        reply = { type = "redirect", to = "/" }
    """,
    "endpoints/users.toml": """
        # Another team's file: a different param name is still the same route.
        [[endpoint]]
        id = "user"
        method = "GET"
        route = "/devices/{userId}"
        reply = { type = "redirect", to = "/" }
    """,
}


def validate(runner: CliRunner, root: Path, *args: str):
    return runner.invoke(app, ["--project", str(root), "validate", *args])


def test_sample_project_validates_clean(runner: CliRunner) -> None:
    result = validate(runner, SAMPLE, "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert (summary["project"], summary["errors"], summary["endpoints"]) == ("smart-farm", 0, 16)


def test_conflict_across_files_is_one_problem_naming_both_sides(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(CONFLICT)
    result = validate(runner, root, "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["errors"] == 1
    [problem] = report["problems"]
    assert problem["code"] == "route-conflict"
    assert (problem["file"], problem["line"], problem["id"]) == ("endpoints/users.toml", 5, "user")
    assert [(r["file"], r["line"], r["id"]) for r in problem["related"]] == [
        ("endpoints/devices.toml", 4, "device")
    ]
    assert problem["message"] == (
        'GET /devices/{userId} (endpoint "user") conflicts with GET /devices/{deviceId} (endpoint "device", '
        "endpoints/devices.toml:4): both would match the same requests "
        "(New route /devices/{userId} conflicts with existing /devices/{deviceId}); "
        "change one route or method"
    )


def test_github_format_annotates_file_and_line(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(CONFLICT)
    result = validate(runner, root, "--format", "github")
    assert result.exit_code == 1
    assert result.stdout.startswith("::error file=endpoints/users.toml,line=5,title=route-conflict::GET ")
    assert "(see endpoints/devices.toml:4)" in result.stdout


def test_text_report_goes_to_stderr_grouped_by_file(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(PLANTED)
    result = validate(runner, root)
    assert result.exit_code == 1
    assert result.stdout == ""
    for code, file, _ in EXPECTED:
        assert code in result.stderr
        assert file in result.stderr
    assert "Traceback" not in result.output


def test_the_text_report_writes_what_the_files_hold_literally(
    runner: CliRunner, write_project: WriteProject
) -> None:
    """A route quoted in a message reaches the report as written: no markup read into `[bold]`, no
    emoji code turned into a picture."""
    root = write_project(
        {"endpoints/odd.toml": '[[endpoint]]\nid = "odd"\nmethod = "GET"\nroute = "/x/:smile: [bold]y"\n'}
    )
    result = validate(runner, root)
    assert result.exit_code == 1
    assert (
        '      4  error   invalid-route  route "/x/:smile: [bold]y" is invalid: Invalid path: '
        "/x/:smile: [bold]y  (endpoint[0].route)"
    ) in result.stderr.splitlines()


def test_every_planted_mistake_in_json_with_file_and_line(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(PLANTED)
    result = validate(runner, root, "--format", "json")
    assert result.exit_code == 1
    found = {(p["code"], p["file"], p["line"]) for p in json.loads(result.stdout)["problems"]}
    assert set(EXPECTED) <= found


def test_sarif_format(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(CONFLICT)
    result = validate(runner, root, "--format", "sarif")
    sarif = json.loads(result.stdout)
    [finding] = sarif["runs"][0]["results"]
    assert finding["ruleId"] == "route-conflict"
    assert finding["locations"][0]["physicalLocation"]["region"]["startLine"] == 5


def test_warnings_pass_unless_strict(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project({"epctl.toml": '[project]\nname = "t"\n[environments.prod]\nversion = "v9"\n'})
    passed = validate(runner, root)
    assert passed.exit_code == 0
    # A cross only when the run fails: warnings that pass get a (yellow) "!".
    assert passed.stderr.splitlines()[-1] == "! 0 errors, 1 warning in 1 file"
    strict = validate(runner, root, "--strict")
    assert strict.exit_code == 1
    assert strict.stderr.splitlines()[-1] == "✗ 0 errors, 1 warning in 1 file"


def test_a_passing_summary_is_yellow_and_a_failing_one_red(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from epctl.cli import output
    from epctl.schemas.problems import Code, Place, Problem

    warning = Problem.warning(Code.NO_REPLY, "no reply", Place(file="endpoints/a.toml", line=1))
    shown = []
    for failing in (False, True):
        buffer = io.StringIO()
        monkeypatch.setattr(
            output,
            "stderr",
            Console(file=buffer, force_terminal=True, color_system="standard", highlight=False),
        )
        output.print_problems([warning], ProblemFormat.TEXT, {"errors": 0, "warnings": 1}, failing=failing)
        shown.append(buffer.getvalue().splitlines()[-1])
    assert shown == [
        "\x1b[33m! 0 errors, 1 warning in 1 file\x1b[0m",
        "\x1b[31m✗ 0 errors, 1 warning in 1 file\x1b[0m",
    ]


def test_bad_format_is_usage_error(runner: CliRunner) -> None:
    result = validate(runner, SAMPLE, "--format", "xml")
    assert result.exit_code == 2
    assert usage_error(result) == (
        "Invalid value for '--format' / '-f': 'xml' is not one of 'text', 'json', 'github', 'sarif'."
    )


@pytest.mark.parametrize("command", [[], ["validate"], ["users", "add"], ["new", "endpoint"], ["serve"]])
def test_help_shows_no_value_type_for_flags(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--help" in result.stdout
    assert "<bool>" not in result.stdout


def test_no_project_found_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = validate(runner, tmp_path)
    assert result.exit_code == 2  # could not run: never the "problems found" verdict
    assert "is not an epctl project: it has no epctl.toml" in result.stderr
    assert "Traceback" not in result.output
