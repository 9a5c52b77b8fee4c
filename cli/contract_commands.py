"""Commands that describe and check a version as a contract: openapi and audit."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from epctl.cli.app import DEVELOP, ExitCode, VersionOption, app, get_state

# Each command imports what it uses when it runs (see cli/app.py): the CLI starts with typer alone.


class OpenApiFormat(StrEnum):
    JSON = "json"
    YAML = "yaml"


class AuditFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


class FailOn(StrEnum):
    """The audit level from which findings fail the run (the audit's own levels, by name)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@app.command("openapi")
def openapi_command(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Option("--version", "-V", help="Version to describe (default: develop).")
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="Describe an environment's version, under its root.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to FILE instead of stdout.")] = None,
    format: Annotated[
        OpenApiFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OpenApiFormat.JSON,
    internal: Annotated[
        bool, typer.Option("--internal", help="Include endpoint descriptions, which are internal notes.")
    ] = False,
) -> None:
    """Print the OpenAPI 3.1 document of a version's enabled endpoints."""
    from rich.markup import escape

    from epctl.cli.contract_output import count_operations, dump_yaml
    from epctl.cli.output import stderr, write_stdout
    from epctl.runtime.openapi import build_openapi
    from epctl.schemas.problems import EpctlError
    from epctl.schemas.version_file import load_version

    if version is not None and env is not None:
        raise typer.BadParameter("choose one of --version and --env", param_hint="--version/--env")
    project_dir = get_state(ctx).project_dir
    root = ""
    if env is not None:
        from epctl.runtime.app import find_environment

        environment = find_environment(project_dir, env)
        version, root = environment.version, environment.root
    project = load_version(project_dir, version or DEVELOP)
    document = build_openapi(project, root=root, internal=internal)
    text = (
        dump_yaml(document)
        if format is OpenApiFormat.YAML
        else json.dumps(document, indent=2, ensure_ascii=False)
    )
    if out is None:
        write_stdout(text)
        return
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as err:
        raise EpctlError(f"cannot write {out}: {err.strerror}") from None
    count = count_operations(document)
    stderr.print(
        f"Wrote {escape(str(out))}: OpenAPI {format} of {escape(project.name)} {escape(project.version)}, "
        f"{count} operation{'s' if count != 1 else ''}"
    )


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    format: Annotated[AuditFormat, typer.Option("--format", "-f", help="Report format.")] = AuditFormat.TEXT,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on findings at this level or above.")
    ] = FailOn.ERROR,
    version: VersionOption = DEVELOP,
) -> None:
    """Check a version against the security rules; exit 0 clean, 1 with findings at --fail-on or above."""
    from epctl.cli.contract_output import count_findings, format_audit_sarif, print_audit_text
    from epctl.cli.output import print_json
    from epctl.cli.sarif import ReportPaths
    from epctl.runtime.audit import Level, audit_project, partition_findings
    from epctl.schemas.loader import load_project
    from epctl.schemas.problems import ProjectError, raise_on_errors
    from epctl.schemas.suppressions import find_bad_directives
    from epctl.schemas.version_file import read_version

    project_dir = get_state(ctx).project_dir
    if version == DEVELOP:
        project = load_project(project_dir)
    else:
        # Not `load_version`: a version its signature would keep from being served is still audited,
        # and its signature is what the audit reports.
        project, problems = read_version(project_dir, version)
        raise_on_errors(problems)
    bad_directives = list(find_bad_directives(project))
    if bad_directives:
        raise ProjectError(bad_directives)  # a suppression that cannot work must not look as if it did
    report = partition_findings(project, audit_project(project))
    findings = report.findings
    summary: dict[str, Any] = {
        **count_findings(findings),
        "suppressed": len(report.suppressed),
        "project": project.name,
        "version": project.version,
    }
    threshold = Level(fail_on.value).rank
    failing = any(finding.level.rank >= threshold for finding in findings)
    if format is AuditFormat.JSON:
        print_json(
            {
                "findings": [finding.to_dict() for finding in findings],
                "suppressed": [s.to_dict() for s in report.suppressed],
                "summary": summary,
            }
        )
    elif format is AuditFormat.SARIF:
        print_json(format_audit_sarif(findings, report.suppressed, ReportPaths.of(project_dir)))
    else:
        print_audit_text(findings, summary, failing=failing)
    raise typer.Exit(ExitCode.PROBLEMS if failing else ExitCode.OK)
