"""How `openapi` and `audit` show their results: YAML, the audit's text report and its SARIF log.

Kept apart from the commands so that the CLI starts without rich or the audit's Jinja parser.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from epctl.cli.output import plural, stderr
from epctl.cli.sarif import SARIF_SCHEMA, ReportPaths, sarif_base, sarif_location, sarif_suppression
from epctl.runtime.audit import RULES, Finding, Level, SuppressedFinding
from epctl.runtime.openapi import JsonObject
from epctl.schemas.problems import EpctlError

LEVEL_COLOURS = {Level.ERROR: "red", Level.WARNING: "yellow", Level.INFO: "blue"}
# SARIF 2.1.0 names the lowest level "note".
SARIF_LEVELS = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "note"}


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


def count_findings(findings: list[Finding]) -> dict[str, int]:
    return {
        "errors": sum(f.level is Level.ERROR for f in findings),
        "warnings": sum(f.level is Level.WARNING for f in findings),
        "info": sum(f.level is Level.INFO for f in findings),
    }


def print_audit_text(findings: list[Finding], summary: dict[str, Any], *, failing: bool) -> None:
    """Print findings to stderr grouped by file, as `validate` prints problems, then each rule's help;
    the summary is a red ✗ when the findings fail the run (`failing`), else a yellow or blue !.
    Suppressed findings are counted in the summary, as `validate` counts suppressed warnings."""
    quiet = f", {summary['suppressed']} suppressed" if summary.get("suppressed") else ""
    if not findings:
        stderr.print(
            f"[green]✓ {escape(summary['project'])} {escape(summary['version'])}: no findings "
            f"({len(RULES)} rules{quiet})[/]"
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
    colour = "yellow" if summary["warnings"] or summary["errors"] else "blue"
    mark = "[red]✗" if failing else f"[{colour}]!"
    stderr.print(
        f"\n{mark} {plural(summary['errors'], 'error')}, {plural(summary['warnings'], 'warning')}, "
        f"{summary['info']} info in {plural(files, 'file')}"
        + (f" ({summary['suppressed']} suppressed)" if summary.get("suppressed") else "")
        + "[/]"
    )


def format_audit_sarif(
    findings: list[Finding], suppressed: list[SuppressedFinding], paths: ReportPaths
) -> dict[str, Any]:
    """Return a SARIF 2.1.0 log of `findings`, then of the suppressed ones (each with a SARIF
    `suppressions` entry, as `validate`'s log keeps suppressed warnings), describing every audit rule
    (found or not). Files are named as `validate`'s log names them (`paths`), so code scanning finds
    them from a project in a sub-folder too."""
    rules = list(RULES.values())
    index = {rule.id: number for number, rule in enumerate(rules)}

    def result(finding: Finding, by: SuppressedFinding | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "ruleId": finding.rule.id,
            "ruleIndex": index[finding.rule.id],
            "level": SARIF_LEVELS[finding.level],
            "message": {"text": finding.message},
            "locations": [sarif_location(paths, finding.place)],
        }
        if by is not None:
            item["suppressions"] = [sarif_suppression(paths, by.by)]
        return item

    results = [result(f) for f in findings] + [result(s.finding, s) for s in suppressed]
    return {
        "$schema": SARIF_SCHEMA,
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
                "originalUriBaseIds": sarif_base(paths),
                "results": results,
            }
        ],
    }
