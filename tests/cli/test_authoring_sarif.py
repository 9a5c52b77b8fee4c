"""`validate --format sarif` is valid SARIF 2.1.0 and carries what GitHub code scanning shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from epctl.schemas.problems import Code
from tests.cli.test_validate import CONFLICT
from tests.conftest import WriteProject, run

SARIF_SCHEMA = Path(__file__).resolve().parent.parent / "data" / "sarif-schema-2.1.0.json"


def sarif_of(runner: CliRunner, root: Path) -> dict[str, Any]:
    result = run(runner, root, "validate", "--format", "sarif")
    assert result.exit_code in (0, 1), result.output
    log: dict[str, Any] = json.loads(result.stdout)
    return log


def check_schema(log: dict[str, Any]) -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)


def test_sarif_of_a_conflict_validates_against_the_sarif_schema(
    runner: CliRunner, write_project: WriteProject
) -> None:
    log = sarif_of(runner, write_project(CONFLICT))
    check_schema(log)
    run_ = log["runs"][0]
    [result] = run_["results"]
    assert (result["ruleId"], result["level"]) == ("route-conflict", "error")
    assert run_["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "route-conflict"
    [location] = result["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "endpoints/users.toml"
    assert location["physicalLocation"]["region"] == {"startLine": 5}
    [related] = result["relatedLocations"]
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "endpoints/devices.toml"
    assert related["physicalLocation"]["region"] == {"startLine": 4}
    assert related["message"] == {"text": '"device" at endpoints/devices.toml:4'}
    # The message links the related location by its id, as code scanning renders it.
    assert result["message"]["text"].endswith(f'(see ["device"]({related["id"]}))')


def test_every_code_is_a_rule_with_help_text(runner: CliRunner, write_project: WriteProject) -> None:
    rules = sarif_of(runner, write_project(CONFLICT))["runs"][0]["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [str(code) for code in Code]
    conflict = rules[[str(code) for code in Code].index("route-conflict")]
    assert conflict["shortDescription"] == {
        "text": "two endpoints of one method that would match the same requests"
    }
    assert conflict["defaultConfiguration"] == {"level": "error"}
    assert "cannot be suppressed" in conflict["help"]["text"]
    no_reply = rules[[str(code) for code in Code].index("no-reply")]
    assert no_reply["defaultConfiguration"] == {"level": "warning"}
    assert "`# epctl: ignore[no-reply]`" in no_reply["help"]["text"]


def test_suppressed_warning_stays_in_sarif_as_suppressed(
    runner: CliRunner, write_project: WriteProject
) -> None:
    quiet = '[[endpoint]]  # epctl: ignore[no-reply]\nid = "a"\nmethod = "GET"\nroute = "/a"\n'
    root = write_project({"endpoints/a.toml": quiet})
    log = sarif_of(runner, root)
    check_schema(log)
    [result] = log["runs"][0]["results"]
    assert result["ruleId"] == "no-reply"
    [suppression] = result["suppressions"]
    assert suppression["kind"] == "inSource"
    assert suppression["location"]["physicalLocation"]["region"] == {"startLine": 1}


def test_paths_start_at_the_current_folder_when_the_project_is_inside_it(
    runner: CliRunner, write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI runs at the repository root and code scanning resolves paths from there."""
    root = write_project(CONFLICT)
    monkeypatch.chdir(root.parent)
    log = sarif_of(runner, root)
    run_ = log["runs"][0]
    uri = run_["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": "project/endpoints/users.toml", "uriBaseId": "%SRCROOT%"}
    assert run_["originalUriBaseIds"] == {"%SRCROOT%": {"uri": root.parent.resolve().as_uri() + "/"}}
    github = run(runner, root, "validate", "--format", "github").stdout
    assert github.startswith("::error file=project/endpoints/users.toml,line=5,title=route-conflict::")
