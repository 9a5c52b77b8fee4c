"""`epctl test`: run a version's request cases and report them as text, JSON or JUnit XML."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from epctl.cli.app import DEVELOP, ExitCode, VersionOption, app, get_state

# Each command imports what it uses when it runs (see cli/app.py): the CLI starts with typer alone.


class CaseFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"


@app.command("test")
def test_command(
    ctx: typer.Context,
    format: Annotated[CaseFormat, typer.Option("--format", "-f", help="Report format.")] = CaseFormat.TEXT,
    version: VersionOption = DEVELOP,
) -> None:
    """Run the request cases of tests/ against a version; exit 0 all pass, 1 on failures, 2 on bad usage."""
    from epctl.cli.case_output import print_report_text, report_json, report_junit
    from epctl.cli.output import print_json, write_stdout
    from epctl.runtime.app import load_served_version
    from epctl.runtime.cases import run_cases

    # As the version is served: a frozen one with epctl.toml's [users] (users are not part of it).
    project = load_served_version(get_state(ctx).project_dir, version)
    report = run_cases(project)
    if format is CaseFormat.JSON:
        print_json(report_json(report))
    elif format is CaseFormat.JUNIT:
        write_stdout(report_junit(report))
    else:
        print_report_text(report)
    raise typer.Exit(ExitCode.OK if report.passed else ExitCode.PROBLEMS)
