"""Suppressions: the warnings and audit findings a project has decided to accept, and the one place
that decides what suppresses them.

A warning of `validate` or a finding of `epctl audit` is suppressed by `[lint] ignore = ["code"]`
(everywhere), by `[lint] per_file_ignores` (in files matching a glob), or by a `# epctl:
ignore[code]` comment on the line it points at; `code` is the problem code or the audit rule id.
Suppressed ones are not dropped: `partition_problems` (and the audit, through `Suppressions`)
returns them beside the reported ones, with what suppressed each, so reports can count and list
them. Validation errors are never suppressed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from epctl.schemas.loader import CONFIG_FILE
from epctl.schemas.problem_codes import explain_unsuppressible
from epctl.schemas.problems import Code, Place, Problem, Severity, sort_problems
from epctl.schemas.project import Project

# `# epctl: ignore[no-reply]` or `# epctl: ignore[no-reply, unused-groups]`, in a TOML comment.
_DIRECTIVE = re.compile(r"epctl:\s*ignore\[([^\]]*)\]")


class SuppressionKind(StrEnum):
    INLINE = "inline"  # a `# epctl: ignore[...]` comment on the problem's line
    LINT = "lint"  # `[lint]` in epctl.toml


@dataclass(frozen=True, slots=True)
class Suppression:
    """What suppressed a problem, and where that is written."""

    kind: SuppressionKind
    place: Place

    def to_dict(self) -> dict[str, object]:
        return {"kind": str(self.kind), **self.place.to_dict()}


@dataclass(frozen=True, slots=True)
class Suppressed:
    problem: Problem
    by: Suppression

    def to_dict(self) -> dict[str, object]:
        return {**self.problem.to_dict(), "suppressed_by": self.by.to_dict()}


@dataclass(frozen=True, slots=True)
class Partition:
    """Problems to report, and the warnings suppressed, each ordered by file and line."""

    reported: list[Problem]
    suppressed: list[Suppressed]


def partition_problems(project: Project, problems: Iterable[Problem]) -> Partition:
    """Return `problems` split into those to report and the warnings the project suppresses.

    Inline comments that name an unknown code or an error's code are reported too (`invalid-value`
    at the comment's line): a suppression that cannot work must not look as if it did.
    """
    reported: list[Problem] = []
    suppressed: list[Suppressed] = []
    suppressions = Suppressions(project)
    for problem in problems:
        by = None
        if problem.severity is Severity.WARNING:
            by = suppressions.find(problem.code, problem.place)
        if by is None:
            reported.append(problem)
        else:
            suppressed.append(Suppressed(problem, by))
    reported.extend(find_bad_directives(project))
    by_problem = {s.problem: s for s in suppressed}
    ordered = [by_problem[problem] for problem in sort_problems(list(by_problem))]
    return Partition(sort_problems(reported), ordered)


class Suppressions:
    """What suppresses a code at a place in one project: a `# epctl: ignore[...]` comment on that
    line first, then `[lint] ignore`, then `[lint] per_file_ignores`. Comments are read on demand."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.lines: dict[str, list[str]] = {}  # split once per file, however many problems it has

    def find(self, code: str, place: Place) -> Suppression | None:
        """Return what suppresses `code` (a warning code or an audit rule id) at `place`, or None."""
        if place.line is not None and code in self.codes_at(place.file, place.line):
            return Suppression(SuppressionKind.INLINE, Place(place.file, place.line))
        lint = self.project.lint
        where = self.project.declarations
        if code in lint.ignore:
            index = lint.ignore.index(code)
            return Suppression(SuppressionKind.LINT, where.locate(CONFIG_FILE, f"lint.ignore[{index}]"))
        for pattern, codes in lint.per_file_ignores.items():
            if code in codes and glob_regex(pattern).fullmatch(place.file):
                key = f"lint.per_file_ignores.{pattern}"
                return Suppression(SuppressionKind.LINT, where.locate(CONFIG_FILE, key))
        return None

    def codes_at(self, file: str, line: int) -> list[str]:
        if file not in self.lines:
            texts = self.project.declarations.texts
            self.lines[file] = texts[file].text.splitlines() if file in texts else []
        lines = self.lines[file]
        comment = comment_of(lines[line - 1]) if 0 < line <= len(lines) else None
        return parse_directive(comment) if comment else []


def comment_of(line: str) -> str | None:
    """Return the comment of a TOML line (after a `#` outside any string), or None."""
    quote = ""
    index = 0
    while index < len(line):
        char = line[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[index + 1 :]
        index += 1
    return None


def parse_directive(comment: str) -> list[str]:
    """Return the codes of an `epctl: ignore[a, b]` directive in a comment's text, else []."""
    match = _DIRECTIVE.search(comment)
    if match is None:
        return []
    return [code.strip() for code in match.group(1).split(",") if code.strip()]


def find_bad_directives(project: Project) -> Iterator[Problem]:
    """Yield an `invalid-value` error for each inline suppression naming a code it cannot suppress."""
    for file, lines in sorted(project.declarations.texts.items()):
        if "epctl:" not in lines.text:  # most files have no directive: skip them at string speed
            continue
        for number, line in enumerate(lines.text.splitlines(), start=1):
            comment = comment_of(line) if "epctl:" in line else None
            for code in parse_directive(comment) if comment else []:
                why = explain_unsuppressible(code)
                if why is not None:
                    yield Problem.error(
                        Code.INVALID_VALUE,
                        f"in `# epctl: ignore[...]`: {why}",
                        Place(file=file, line=number),
                    )


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Return the regex of a glob over project-relative paths: `*` and `?` stay within one folder,
    `**` spans folders (`endpoints/**` matches every file below endpoints/)."""
    parts = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts))
