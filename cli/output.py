"""How the CLI shows things: consoles, problem reports in every format, small formatting helpers.

Imported by commands when they run, never when the CLI starts (rich is not needed for `--version`).
Data goes to stdout, diagnostics to stderr. rich drops colour by itself when the stream is not a
terminal or NO_COLOR is set; `soft_wrap` keeps long lines whole so piped output stays greppable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from epctl.cli.app import ProblemFormat
from epctl.schemas.problems import Place, Problem, Severity

stdout = Console(soft_wrap=True, highlight=False)
stderr = Console(stderr=True, soft_wrap=True, highlight=False)


def print_table(table: Table) -> None:
    """Print a table to stdout; piped, one row stays one line (no wrapping at 80 columns)."""
    if stdout.is_terminal:
        stdout.print(table)
    else:
        Console(file=stdout.file, width=100_000, highlight=False, no_color=True).print(table)


def count_problems(problems: Iterable[Problem]) -> dict[str, int]:
    problems = list(problems)
    errors = sum(p.severity is Severity.ERROR for p in problems)
    return {"errors": errors, "warnings": len(problems) - errors}


def print_json(data: Any) -> None:
    """Print JSON to stdout as plain text (no rich markup or highlighting can alter it)."""
    stdout.out(json.dumps(data, indent=2, ensure_ascii=False), highlight=False)


def format_place(place: Place) -> str:
    return f"{place.file}:{place.line}" if place.line else place.file


def print_problems(problems: list[Problem], fmt: ProblemFormat, summary: dict[str, Any]) -> None:
    """Print a validation report in `fmt`; text goes to stderr, machine formats to stdout."""
    if fmt is ProblemFormat.JSON:
        print_json({"problems": [p.to_dict() for p in problems], "summary": summary})
    elif fmt is ProblemFormat.GITHUB:
        for problem in problems:
            stdout.out(format_github(problem), highlight=False)
    elif fmt is ProblemFormat.SARIF:
        print_json(format_sarif(problems))
    else:
        print_text(problems, summary)


def print_text(problems: list[Problem], summary: dict[str, Any]) -> None:
    current = None
    for problem in problems:
        if problem.file != current:
            current = problem.file
            stderr.print(f"\n[bold underline]{escape(current)}[/]")
        colour = "red" if problem.severity is Severity.ERROR else "yellow"
        line = f"{problem.line}" if problem.line else "-"
        stderr.print(
            f"  [dim]{line:>5}[/]  [{colour}]{problem.severity:<7}[/] [cyan]{problem.code}[/]  "
            f"{escape(problem.message)}"
            + (f"  [dim]({escape(problem.place.key)})[/]" if problem.place.key else "")
        )
        for related in problem.related:
            what = f" ({related.id})" if related.id else ""
            stderr.print(f"  {'':>5}  [dim]see {escape(format_place(related))}{escape(what)}[/]")
    errors, warnings = summary["errors"], summary["warnings"]
    if errors or warnings:
        files = len({p.file for p in problems})
        colour = "red" if errors else "yellow"
        stderr.print(
            f"\n[{colour}]✗ {_plural(errors, 'error')}, {_plural(warnings, 'warning')} "
            f"in {_plural(files, 'file')}[/]"
        )
    else:
        stderr.print(
            f"[green]✓ {escape(summary['project'])}: {_plural(summary['endpoints'], 'endpoint')}, "
            f"{_plural(summary['pages'], 'page')}, {_plural(summary['workflows'], 'workflow')}; "
            "no problems[/]"
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _escape_github(text: str, *, property: bool = False) -> str:
    # GitHub workflow commands need %, CR and LF escaped, and also : and , inside properties.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property else text


def format_github(problem: Problem) -> str:
    level = "error" if problem.severity is Severity.ERROR else "warning"
    props = [f"file={_escape_github(problem.file, property=True)}"]
    if problem.line:
        props.append(f"line={problem.line}")
    props.append(f"title={_escape_github(problem.code, property=True)}")
    message = problem.message + "".join(f" (see {format_place(r)})" for r in problem.related)
    return f"::{level} {','.join(props)}::{_escape_github(message)}"


def format_sarif(problems: list[Problem]) -> dict[str, Any]:
    def location(place: Place) -> dict[str, Any]:
        region = {"startLine": place.line} if place.line else {}
        return {"physicalLocation": {"artifactLocation": {"uri": place.file}, "region": region}}

    results = [
        {
            "ruleId": p.code,
            "level": "error" if p.severity is Severity.ERROR else "warning",
            "message": {"text": p.message},
            "locations": [location(p.place)],
            "relatedLocations": [location(r) for r in p.related],
        }
        for p in problems
    ]
    rules = [{"id": code} for code in sorted({p.code for p in problems})]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "epctl", "rules": rules}}, "results": results}],
    }
