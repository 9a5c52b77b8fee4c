"""Problems found in a project, and the exceptions every epctl layer raises.

A problem is data, not an exception: the loader collects every problem in every file before it
reports, so a user fixes a whole project in one round instead of one error per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    """Every problem code epctl reports: stable kebab-case names users grep for and suppress by.

    README's "Validation in CI" section lists them all; a test keeps the two equal.
    """

    # reading files
    TOML_SYNTAX = "toml-syntax"
    ENCODING = "encoding"
    UNREADABLE_FILE = "unreadable-file"
    MISSING_FILE = "missing-file"
    PATH_ESCAPE = "path-escape"
    # one table on its own
    UNKNOWN_KEY = "unknown-key"
    MISSING_KEY = "missing-key"
    NOT_AN_ARRAY = "not-an-array"
    INVALID_TYPE = "invalid-type"
    INVALID_VALUE = "invalid-value"
    INVALID_STATUS = "invalid-status"
    INVALID_ROUTE = "invalid-route"
    # across tables
    ROUTE_CONFLICT = "route-conflict"
    DUPLICATE_ID = "duplicate-id"
    DUPLICATE_NAME = "duplicate-name"
    UNKNOWN_PAGE = "unknown-page"
    UNKNOWN_LAYOUT = "unknown-layout"
    UNKNOWN_COMPONENT = "unknown-component"
    UNKNOWN_ENDPOINT = "unknown-endpoint"
    UNKNOWN_API_KEY = "unknown-api-key"
    UNKNOWN_HANDLER = "unknown-handler"
    MISSING_GROUPS = "missing-groups"
    LAYOUT_SLOT = "layout-slot"
    TEMPLATE_SYNTAX = "template-syntax"
    HANDLER_SYNTAX = "handler-syntax"
    UNKNOWN_MODULE = "unknown-module"
    INVALID_SCHEMA = "invalid-schema"
    # found when a version is built to be served
    HANDLER_ERROR = "handler-error"
    SERVE_ERROR = "serve-error"
    # warnings
    NO_REPLY = "no-reply"
    UNUSED_GROUPS = "unused-groups"
    UNKNOWN_VERSION = "unknown-version"


@dataclass(frozen=True, slots=True)
class Place:
    """Where something is declared: a file relative to the project, a 1-based line, a key path."""

    file: str
    line: int | None = None
    key: str | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, str | int | None]:
        return {"file": self.file, "line": self.line, "key": self.key, "id": self.id}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of validation, with a stable kebab-case code users can grep and suppress by."""

    severity: Severity
    code: Code
    message: str
    place: Place
    related: tuple[Place, ...] = field(default=())

    @classmethod
    def error(cls, code: Code, message: str, place: Place, related: tuple[Place, ...] = ()) -> Problem:
        return cls(Severity.ERROR, code, message, place, related)

    @classmethod
    def warning(cls, code: Code, message: str, place: Place, related: tuple[Place, ...] = ()) -> Problem:
        return cls(Severity.WARNING, code, message, place, related)

    @property
    def file(self) -> str:
        return self.place.file

    @property
    def line(self) -> int | None:
        return self.place.line

    def to_dict(self) -> dict[str, object]:
        return {
            "severity": str(self.severity),
            "code": str(self.code),
            "message": self.message,
            **self.place.to_dict(),
            "related": [place.to_dict() for place in self.related],
        }


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Return problems ordered by file, then line, so output reads top to bottom like the files."""
    return sorted(problems, key=lambda p: (p.place.file, p.place.line or 0, p.code, p.message))


def did_you_mean(word: str, choices: Iterable[str], *, list_all: bool = False) -> str:
    """Return `; did you mean "x"?` for the nearest choice; with `list_all`, else the valid choices."""
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f'; did you mean "{close[0]}"?'
    if list_all and options:
        return f"; valid keys: {', '.join(sorted(options))}"
    return ""


class EpctlError(Exception):
    """Base of every error epctl raises on purpose; the CLI shows its message without a traceback."""


def raise_on_errors(problems: list[Problem]) -> None:
    """Raise ProjectError carrying all `problems` when any of them is an error."""
    if any(p.severity is Severity.ERROR for p in problems):
        raise ProjectError(problems)


class ProjectError(EpctlError):
    """A project (or version) that cannot be used: carries every problem found, errors first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sort_problems(problems)
        errors = [p for p in self.problems if p.severity is Severity.ERROR]
        first = errors[0] if errors else self.problems[0]
        where = f"{first.file}:{first.line}" if first.line else first.file
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{where}: {first.message}{more}")

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]
