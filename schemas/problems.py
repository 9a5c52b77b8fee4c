"""Problems found in a project, and the exceptions every epctl layer raises.

A problem is data, not an exception: the loader collects every problem in every file before it
reports, so a user fixes a whole project in one round instead of one error per run.
"""

from __future__ import annotations

import bisect
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
    NOT_A_FILE = "not-a-file"
    FILE_TOO_LARGE = "file-too-large"
    STATIC_TOO_LARGE = "static-too-large"
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
    DUPLICATE_API_KEY = "duplicate-api-key"
    UNKNOWN_PAGE = "unknown-page"
    UNKNOWN_LAYOUT = "unknown-layout"
    UNKNOWN_COMPONENT = "unknown-component"
    UNKNOWN_ENDPOINT = "unknown-endpoint"
    UNKNOWN_API_KEY = "unknown-api-key"
    UNKNOWN_HANDLER = "unknown-handler"
    UNKNOWN_ASSET = "unknown-asset"
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
    UNSERVED_STATIC_FILE = "unserved-static-file"


@dataclass(frozen=True, slots=True)
class Place:
    """Where something is declared: a file relative to the project, a 1-based line, a key path."""

    file: str
    line: int | None = None
    key: str | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, str | int | None]:
        return {"file": self.file, "line": self.line, "key": self.key, "id": self.id}

    def location(self) -> str:
        """Return `file:line`, or the file alone when the line is not known."""
        return f"{self.file}:{self.line}" if self.line else self.file


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


# How many names one suggestion compares the word with, and how many comparisons one run may make:
# "did you mean" is a courtesy, and a file of 2,000 unknown references must not make it quadratic.
CANDIDATES_PER_WORD = 100
COMPARISONS_PER_RUN = 20_000


@dataclass(slots=True)
class WorkBudget:
    """A bound on the work of one run (counted in comparisons), shared by the suggesters it uses."""

    left: int = COMPARISONS_PER_RUN
    spent: int = 0

    def take(self, amount: int) -> bool:
        """Spend `amount` and return True, or return False when less than that is left."""
        if amount > self.left:
            self.left = 0  # spent: later words are not even looked up
            return False
        self.left -= amount
        self.spent += amount
        return True


class Suggester:
    """Finds the declared name nearest to a word, with bounded work for any input.

    A word is compared with at most CANDIDATES_PER_WORD names: with more declared, those next to it in
    sorted order and in sorted order of the reversed names, so names sharing its start or its end (the
    likely typos: a letter changed at the end or at the start). Answers are remembered per word, and
    once the budget is spent no more suggestions are made.
    """

    def __init__(self, choices: Iterable[str], budget: WorkBudget | None = None) -> None:
        self.choices = list(dict.fromkeys(choices))
        self.budget = budget if budget is not None else WorkBudget()
        self.memo: dict[str, str | None] = {}
        self._forward: list[str] | None = None
        self._backward: list[str] | None = None

    def nearest(self, word: str) -> str | None:
        """Return the declared name nearest to `word` (difflib ratio >= 0.6), else None."""
        if word in self.memo:
            return self.memo[word]
        found = None
        if self.budget.left <= 0:
            return found
        candidates = self.candidates(word)
        if self.budget.take(len(candidates)):
            close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
            found = close[0] if close else None
        self.memo[word] = found
        return found

    def candidates(self, word: str) -> list[str]:
        if len(self.choices) <= CANDIDATES_PER_WORD:
            return self.choices
        if self._forward is None or self._backward is None:
            self._forward = sorted(self.choices)
            self._backward = sorted(choice[::-1] for choice in self.choices)
        half = CANDIDATES_PER_WORD // 2
        found = dict.fromkeys(_neighbours(self._forward, word, half))
        found.update(dict.fromkeys(name[::-1] for name in _neighbours(self._backward, word[::-1], half)))
        return list(found)


def _neighbours(names: list[str], word: str, count: int) -> list[str]:
    """Return the `count` names around where `word` sorts in `names` (sorted)."""
    index = bisect.bisect_left(names, word)
    start = max(0, min(index - count // 2, len(names) - count))
    return names[start : start + count]


def did_you_mean(
    word: str, choices: Iterable[str] | Suggester, *, list_all: bool = False, budget: WorkBudget | None = None
) -> str:
    """Return `; did you mean "x"?` for the nearest choice; with `list_all`, else the valid choices.

    Pass a Suggester to reuse its index and answers across many words of one run.
    """
    suggester = choices if isinstance(choices, Suggester) else Suggester(choices, budget)
    close = suggester.nearest(word)
    if close is not None:
        return f'; did you mean "{close}"?'
    if list_all and suggester.choices:
        return f"; valid keys: {', '.join(sorted(suggester.choices))}"
    return ""


class EpctlError(Exception):
    """Base of every error epctl raises on purpose; the CLI shows its message without a traceback."""


class UsageError(EpctlError):
    """A request that names something that does not exist or cannot be named so (a missing version,
    an unknown environment): the caller's mistake, which the CLI reports as bad usage."""


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
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first.place.location()}: {first.message}{more}")

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]
