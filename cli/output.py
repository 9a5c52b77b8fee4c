"""How the CLI shows things: consoles, problem reports in every format, small formatting helpers.

Imported by commands when they run, never when the CLI starts (rich is not needed for `--version`).
Data goes to stdout, diagnostics to stderr. rich drops colour by itself when the stream is not a
terminal or NO_COLOR is set; `soft_wrap` keeps long lines whole so piped output stays greppable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from epctl.cli.app import ProblemFormat
from epctl.cli.sarif import ReportPaths, format_sarif
from epctl.schemas.problems import Problem, Severity
from epctl.schemas.suppressions import Suppressed

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


def print_problems(
    problems: list[Problem],
    fmt: ProblemFormat,
    summary: dict[str, Any],
    *,
    suppressed: Sequence[Suppressed] = (),
    paths: ReportPaths | None = None,
    failing: bool | None = None,
) -> None:
    """Print a validation report in `fmt`; text goes to stderr, machine formats to stdout.

    `failing` says whether the run fails (default: when there are errors); the text summary is a red
    ✗ then, else a yellow ! for warnings that do not fail it.

    Suppressed warnings are counted in the text summary, listed apart in JSON (`"suppressed"`, each
    with `"suppressed_by"`) and kept in SARIF with a `suppressions` entry; GitHub annotations leave
    them out. `paths` names files for GitHub and SARIF (default: as the project names them).
    """
    if fmt is ProblemFormat.JSON:
        print_json(
            {
                "problems": [p.to_dict() for p in problems],
                "suppressed": [s.to_dict() for s in suppressed],
                "summary": summary,
            }
        )
    elif fmt is ProblemFormat.GITHUB:
        for problem in problems:
            stdout.out(format_github(problem, paths.prefix if paths else ""), highlight=False)
    elif fmt is ProblemFormat.SARIF:
        print_json(format_sarif(problems, suppressed, paths))
    else:
        print_text(problems, summary, failing=bool(summary["errors"]) if failing is None else failing)


def print_text(problems: list[Problem], summary: dict[str, Any], *, failing: bool) -> None:
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
            stderr.print(f"  {'':>5}  [dim]see {escape(related.location())}{escape(what)}[/]")
    errors, warnings = summary["errors"], summary["warnings"]
    quiet = f" ({summary['suppressed']} suppressed)" if summary.get("suppressed") else ""
    if errors or warnings:
        files = len({p.file for p in problems})
        mark = "[red]✗" if failing else "[yellow]!"
        stderr.print(
            f"\n{mark} {plural(errors, 'error')}, {plural(warnings, 'warning')} "
            f"in {plural(files, 'file')}{quiet}[/]"
        )
    else:
        stderr.print(
            f"[green]✓ {escape(summary['project'])}: {plural(summary['endpoints'], 'endpoint')}, "
            f"{plural(summary['pages'], 'page')}, {plural(summary['workflows'], 'workflow')}; "
            f"no problems{quiet}[/]"
        )


def plural(count: int, word: str) -> str:
    """Return "1 word" or "N words"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _escape_github(text: str, *, property: bool = False) -> str:
    # GitHub workflow commands need %, CR and LF escaped, and also : and , inside properties.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property else text


def format_github(problem: Problem, prefix: str = "") -> str:
    """Return the GitHub workflow command annotating `problem`; `prefix` leads the project's paths
    to the repository root (README, section "Validation in CI")."""
    level = "error" if problem.severity is Severity.ERROR else "warning"
    props = [f"file={_escape_github(prefix + problem.file, property=True)}"]
    if problem.line:
        props.append(f"line={problem.line}")
    props.append(f"title={_escape_github(problem.code, property=True)}")
    message = problem.message + "".join(f" (see {r.location()})" for r in problem.related)
    return f"::{level} {','.join(props)}::{_escape_github(message)}"
