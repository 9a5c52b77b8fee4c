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
from rich.table import Table
from rich.text import Text

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
    write_stdout(json.dumps(data, indent=2, ensure_ascii=False))


def write_stdout(text: str) -> None:
    """Write `text` and a newline to stdout exactly as it is: data for another program. Not through
    rich, whose rendering (markup, emoji codes, line splitting) of a report of 10,000 problems took
    seconds and could alter it."""
    file = stdout.file
    file.write(text + "\n")
    file.flush()


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
        prefix = paths.prefix if paths else ""
        if problems:
            write_stdout("\n".join(format_github(problem, prefix) for problem in problems))
    elif fmt is ProblemFormat.SARIF:
        print_json(format_sarif(problems, suppressed, paths))
    else:
        print_text(problems, summary, failing=bool(summary["errors"]) if failing is None else failing)


# A line of the text report: its pieces, each with a rich style ("" for none).
Line = list[tuple[str, str]]


def print_text(problems: list[Problem], summary: dict[str, Any], *, failing: bool) -> None:
    """Print the text report to stderr: coloured for a terminal, plain for a log or a pipe."""
    write_lines(stderr, [*format_problem_lines(problems), *format_summary_lines(problems, summary, failing)])


def format_problem_lines(problems: list[Problem]) -> list[Line]:
    """Return the report's lines for `problems`: each file's name, then a line per problem (line
    number, severity, code, message, key) and one per place it relates to."""
    lines: list[Line] = []
    current = None
    for problem in problems:
        if problem.file != current:
            current = problem.file
            lines += [[], [(current, "bold underline")]]
        line = f"{problem.line}" if problem.line else "-"
        parts = [
            (f"  {line:>5}", "dim"),
            ("  ", ""),
            (f"{problem.severity:<7}", "red" if problem.severity is Severity.ERROR else "yellow"),
            (" ", ""),
            (problem.code, "cyan"),
            (f"  {problem.message}", ""),
        ]
        if problem.place.key:
            parts.append((f"  ({problem.place.key})", "dim"))
        lines.append(parts)
        for related in problem.related:
            what = f" ({related.id})" if related.id else ""
            lines.append([(f"  {'':>5}  ", ""), (f"see {related.location()}{what}", "dim")])
    return lines


def format_summary_lines(problems: list[Problem], summary: dict[str, Any], failing: bool) -> list[Line]:
    """Return the report's last lines: the counts (a red ✗ when the run fails, a yellow ! for warnings
    that do not fail it), or a green ✓ with what the project holds."""
    errors, warnings = summary["errors"], summary["warnings"]
    quiet = f" ({summary['suppressed']} suppressed)" if summary.get("suppressed") else ""
    if errors or warnings:
        files = len({p.file for p in problems})
        counts = f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(files, 'file')}{quiet}"
        return [[], [(f"✗ {counts}", "red") if failing else (f"! {counts}", "yellow")]]
    held = (
        f"{plural(summary['endpoints'], 'endpoint')}, {plural(summary['pages'], 'page')}, "
        f"{plural(summary['workflows'], 'workflow')}"
    )
    return [[(f"✓ {summary['project']}: {held}; no problems{quiet}", "green")]]


def write_lines(console: Console, lines: list[Line]) -> None:
    """Write `lines` to `console`: styled through rich on a terminal; elsewhere as plain text in one
    write (rich would drop the styles anyway, after parsing each line: seconds for a long report)."""
    if console.is_terminal:
        for parts in lines:
            console.print(Text.assemble(*parts))
        return
    file = console.file
    file.write("".join("".join(text for text, _ in parts) + "\n" for parts in lines))
    file.flush()


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
