"""Exit codes: a verdict (0 clean or equal, 1 problems or different) never shares a code with "could
not run" (2), so a script can tell a difference from a typo."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import run


def test_diff_of_a_missing_version_is_a_usage_error(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "diff", "develop", "nope")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        'Error: no version "nope" (looked for versions/nope.toml); `epctl versions` lists them'
    )
    assert result.stdout == ""


def test_diff_exits_0_equal_and_1_different(runner: CliRunner, sample: Path) -> None:
    assert run(runner, sample, "diff", "v1.0.0", "v1.0.0").exit_code == 0
    assert run(runner, sample, "diff", "v1.0.0", "develop").exit_code in (0, 1)
    (sample / "pages" / "templates" / "home.html").write_text("changed\n")
    assert run(runner, sample, "diff", "v1.0.0", "develop").exit_code == 1


def test_diff_against_a_develop_that_does_not_load_could_not_compare(runner: CliRunner, sample: Path) -> None:
    (sample / "endpoints" / "site.toml").write_text("[[endpoint]\nbroken")
    result = run(runner, sample, "diff", "v1.0.0", "develop")
    assert result.exit_code == 2
    assert "toml-syntax" in result.stderr


@pytest.mark.parametrize("command", [["validate"], ["verify"], ["match", "GET", "/"], ["diff", "a", "b"]])
def test_verdict_commands_outside_a_project_exit_2(
    runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    result = run(runner, tmp_path, *command)
    assert result.exit_code == 2
    assert "is not an epctl project: it has no epctl.toml" in result.stderr


def test_validate_of_a_missing_version_is_a_usage_error(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "validate", "--version", "v9")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        'Error: no version "v9" (looked for versions/v9.toml); `epctl versions` lists them'
    )


def test_match_against_a_develop_that_does_not_load_exits_2(runner: CliRunner, sample: Path) -> None:
    (sample / "endpoints" / "site.toml").write_text("[[endpoint]\nbroken")
    result = run(runner, sample, "match", "GET", "/")
    assert result.exit_code == 2
    assert "toml-syntax" in result.stderr


def test_validate_exits_1_on_problems_and_2_when_it_cannot_run(runner: CliRunner, sample: Path) -> None:
    (sample / "endpoints" / "site.toml").write_text("[[endpoint]\nbroken")
    assert run(runner, sample, "validate").exit_code == 1
    assert run(runner, sample, "validate", "--version", ".bad").exit_code == 2


def test_verify_exits_1_for_a_version_that_fails(runner: CliRunner, sample: Path) -> None:
    path = sample / "versions" / "v1.0.0.toml"
    path.write_text(path.read_text().replace('method = "POST"', 'method = "PUT"'))
    assert run(runner, sample, "verify").exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--version", "v9"], 'Error: no version "v9"'),
        (["promote", "v9", "--env", "production"], 'Error: no version "v9"'),
        (["restore", "v9"], 'Error: no version "v9"'),
        (["snapshot", "develop"], 'Error: "develop" is the live, editable version'),
    ],
)
def test_naming_a_version_that_cannot_exist_is_a_usage_error(
    runner: CliRunner, sample: Path, args: list[str], message: str
) -> None:
    result = run(runner, sample, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
