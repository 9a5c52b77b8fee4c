"""Commands that describe and check a version as a contract: openapi and audit."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from epctl.cli.app import ExitCode, VersionOption, app, get_state
from epctl.cli.output import print_json, stderr, stdout
from epctl.runtime.audit import RULES, Finding, Level, audit_project
from epctl.runtime.openapi import JsonObject, build_openapi
from epctl.schemas.problems import EpctlError
from epctl.schemas.project import DEVELOP
from epctl.schemas.version_file import load_version

LEVEL_COLOURS = {Level.ERROR: "red", Level.WARNING: "yellow", Level.INFO: "blue"}
# SARIF 2.1.0 names the lowest level "note".
SARIF_LEVELS = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "note"}


class OpenApiFormat(StrEnum):
    JSON = "json"
    YAML = "yaml"


class AuditFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


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
    if version is not None and env is not None:
        raise typer.BadParameter("choose one of --version and --env", param_hint="--version/--env")
    project_dir = get_state(ctx).project_dir
    root = ""
    if env is not None:
        # Imported here: the app module loads werkzeug, which no other command of this module needs.
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
        stdout.out(text, highlight=False)
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


def count_operations(document: JsonObject) -> int:
    paths = document.get("paths")
    return (
        sum(len(item) for item in paths.values() if isinstance(item, dict)) if isinstance(paths, dict) else 0
    )


def dump_yaml(document: JsonObject) -> str:
    """Return `document` as YAML; raise EpctlError when PyYAML is not installed."""
    try:
        import yaml  # imported here: only this format needs it, and it is an optional extra
    except ImportError:
        raise EpctlError(
            "--format yaml needs PyYAML: pip install 'epctl[yaml]' (or use the default JSON)"
        ) from None
    text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return text.rstrip("\n")


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    format: Annotated[AuditFormat, typer.Option("--format", "-f", help="Report format.")] = AuditFormat.TEXT,
    fail_on: Annotated[
        Level, typer.Option("--fail-on", help="Exit 1 on findings at this level or above.")
    ] = Level.ERROR,
    version: VersionOption = DEVELOP,
) -> None:
    """Check a version against the security rules; exit 0 clean, 1 with findings at --fail-on or above."""
    project = load_version(get_state(ctx).project_dir, version)
    findings = audit_project(project)
    summary: dict[str, Any] = {
        **count_findings(findings),
        "project": project.name,
        "version": project.version,
    }
    if format is AuditFormat.JSON:
        print_json({"findings": [finding.to_dict() for finding in findings], "summary": summary})
    elif format is AuditFormat.SARIF:
        print_json(format_audit_sarif(findings))
    else:
        print_audit_text(findings, summary)
    failing = any(finding.level.rank >= fail_on.rank for finding in findings)
    raise typer.Exit(ExitCode.PROBLEMS if failing else ExitCode.OK)


def count_findings(findings: list[Finding]) -> dict[str, int]:
    return {
        "errors": sum(f.level is Level.ERROR for f in findings),
        "warnings": sum(f.level is Level.WARNING for f in findings),
        "info": sum(f.level is Level.INFO for f in findings),
    }


def print_audit_text(findings: list[Finding], summary: dict[str, Any]) -> None:
    """Print findings to stderr grouped by file, as `validate` prints problems, then each rule's help."""
    if not findings:
        stderr.print(
            f"[green]✓ {escape(summary['project'])} {escape(summary['version'])}: no findings "
            f"({len(RULES)} rules)[/]"
        )
        return
    current = None
    for finding in findings:
        place = finding.place
        if place.file != current:
            current = place.file
            stderr.print(f"\n[bold underline]{escape(current)}[/]")
        line = f"{place.line}" if place.line else "-"
        colour = LEVEL_COLOURS[finding.level]
        stderr.print(
            f"  [dim]{line:>5}[/]  [{colour}]{finding.level:<7}[/] [cyan]{finding.rule.id}[/]  "
            f"{escape(finding.message)}" + (f"  [dim]({escape(place.key)})[/]" if place.key else "")
        )
    stderr.print()
    for rule_id in sorted({f.rule.id for f in findings}):
        stderr.print(f"[cyan]{rule_id}[/]: [dim]{escape(RULES[rule_id].help)}[/]")
    files = len({f.place.file for f in findings})
    colour = "red" if summary["errors"] else "yellow" if summary["warnings"] else "blue"
    stderr.print(
        f"\n[{colour}]✗ {_plural(summary['errors'], 'error')}, {_plural(summary['warnings'], 'warning')}, "
        f"{summary['info']} info in {_plural(files, 'file')}[/]"
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def format_audit_sarif(findings: list[Finding]) -> dict[str, Any]:
    """Return a SARIF 2.1.0 log of `findings`, describing every audit rule (found or not)."""
    rules = list(RULES.values())
    index = {rule.id: number for number, rule in enumerate(rules)}
    results = []
    for finding in findings:
        place = finding.place
        region = {"startLine": place.line} if place.line else {}
        results.append(
            {
                "ruleId": finding.rule.id,
                "ruleIndex": index[finding.rule.id],
                "level": SARIF_LEVELS[finding.level],
                "message": {"text": finding.message},
                "locations": [
                    {"physicalLocation": {"artifactLocation": {"uri": place.file}, "region": region}}
                ],
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "epctl audit",
                        "rules": [
                            {
                                "id": rule.id,
                                "shortDescription": {"text": rule.title},
                                "help": {"text": rule.help},
                                "defaultConfiguration": {"level": SARIF_LEVELS[rule.level]},
                            }
                            for rule in rules
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
