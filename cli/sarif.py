"""`validate --format sarif`: SARIF 2.1.0 that GitHub code scanning accepts.

Rule ids are the problem codes, each rule carrying its help text and default level; a result points
at its file and line (`region.startLine`) and, for a conflict or a duplicate, at the other side as a
related location that its message links to. Suppressed warnings are kept as results with a SARIF
`suppressions` entry (`inSource` for a comment, `external` for `[lint]`), so no finding silently
disappears from the log.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epctl.schemas.problem_codes import CODE_INFO
from epctl.schemas.problems import Code, Place, Problem, Severity
from epctl.schemas.suppressions import Suppressed, Suppression, SuppressionKind

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
BASE_ID = "%SRCROOT%"


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """How machine-read reports name project files.

    CI runs at the repository root and code scanning resolves paths from there, so a project inside
    the current folder is named from it (`farm/endpoints/api.toml`); any other project is named
    from its own folder. `base` is the folder those paths start from.
    """

    base: Path
    prefix: str = ""

    @classmethod
    def of(cls, root: Path) -> ReportPaths:
        """Return the paths for the project in `root`, as seen from the current folder."""
        cwd = Path.cwd().resolve()
        if root.is_relative_to(cwd) and root != cwd:
            return cls(cwd, root.relative_to(cwd).as_posix() + "/")
        return cls(root)

    def name(self, file: str) -> str:
        return self.prefix + file


def sarif_location(paths: ReportPaths, place: Place) -> dict[str, Any]:
    """Return the SARIF location of `place`: its file as `paths` names it, its line when known."""
    physical: dict[str, Any] = {"artifactLocation": {"uri": paths.name(place.file), "uriBaseId": BASE_ID}}
    if place.line:
        physical["region"] = {"startLine": place.line}
    return {"physicalLocation": physical}


def sarif_suppression(paths: ReportPaths, suppression: Suppression) -> dict[str, Any]:
    """Return the SARIF `suppressions` entry of what a comment or `[lint]` key suppressed."""
    kind = "inSource" if suppression.kind is SuppressionKind.INLINE else "external"
    return {"kind": kind, "location": sarif_location(paths, suppression.place)}


def sarif_base(paths: ReportPaths) -> dict[str, Any]:
    """Return a run's `originalUriBaseIds`: where the files' relative names start."""
    return {BASE_ID: {"uri": paths.base.as_uri().rstrip("/") + "/"}}


def _level(severity: Severity) -> str:
    return "error" if severity is Severity.ERROR else "warning"


def build_rules() -> list[dict[str, Any]]:
    """Return one SARIF rule per problem code, in the enum's order (results refer to it by index)."""
    rules = []
    for code in Code:
        info = CODE_INFO[code]
        if info.severity is Severity.WARNING:
            how = f"To accept it, add `# epctl: ignore[{code}]` to the line or `{code}` to `[lint] ignore`."
        else:
            how = "An error stops the project from being served; it cannot be suppressed."
        rules.append(
            {
                "id": str(code),
                "name": "".join(part.capitalize() for part in code.split("-")),
                "shortDescription": {"text": info.summary},
                "fullDescription": {"text": info.summary},
                "help": {"text": f"{info.summary}. {how}", "markdown": f"**{code}**: {info.summary}. {how}"},
                "defaultConfiguration": {"level": _level(info.severity)},
                "properties": {"tags": ["epctl", "configuration"]},
            }
        )
    return rules


def format_sarif(
    problems: Sequence[Problem], suppressed: Sequence[Suppressed] = (), paths: ReportPaths | None = None
) -> dict[str, Any]:
    """Return the SARIF 2.1.0 log of a validation: reported problems, then suppressed ones."""
    paths = paths or ReportPaths(Path.cwd().resolve())
    index = {code: number for number, code in enumerate(Code)}

    def location(place: Place, id: int | None = None, text: str | None = None) -> dict[str, Any]:
        result = sarif_location(paths, place)
        if id is not None:
            result["id"] = id
        if text is not None:
            result["message"] = {"text": text}
        return result

    def result(problem: Problem, by: Suppressed | None = None) -> dict[str, Any]:
        message = problem.message
        related = []
        for number, place in enumerate(problem.related, start=1):
            what = f'"{place.id}"' if place.id else "the other declaration"
            related.append(location(place, number, f"{what} at {place.file}:{place.line or '-'}"))
            # SARIF links `[text](id)` in a message to the related location of that id.
            message += f" (see [{what}]({number}))"
        item: dict[str, Any] = {
            "ruleId": str(problem.code),
            "ruleIndex": index[problem.code],
            "level": _level(problem.severity),
            "message": {"text": message},
            "locations": [location(problem.place)],
        }
        if related:
            item["relatedLocations"] = related
        if by is not None:
            item["suppressions"] = [sarif_suppression(paths, by.by)]
        return item

    results = [result(p) for p in problems] + [result(s.problem, s) for s in suppressed]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "epctl",
                        "version": importlib.metadata.version("epctl"),
                        "rules": build_rules(),
                    }
                },
                "originalUriBaseIds": sarif_base(paths),
                "results": results,
            }
        ],
    }
