"""Suppressions: `[lint]` in epctl.toml and `# epctl: ignore[code]` comments silence warnings only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from epctl.schemas.suppressions import comment_of, glob_regex, parse_directive
from tests.conftest import WriteProject, run

NO_REPLY = (
    "no reply and no workflow triggered by this endpoint: it will answer 500; add a reply table or a "
    "workflow with this endpoint id"
)
QUIET_AND_LOUD = {
    "endpoints/site.toml": """
        [[endpoint]]  # epctl: ignore[no-reply]
        id = "quiet"
        method = "GET"
        route = "/quiet"
        groups = ["staff"]

        [[endpoint]]
        id = "loud"
        method = "GET"
        route = "/loud"
    """,
}


def report(runner: CliRunner, root: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = run(runner, root, "validate", "--format", "json", *args)
    return result.exit_code, json.loads(result.stdout)


def codes(problems: list[dict[str, Any]]) -> list[tuple[str, str | None, int | None]]:
    return [(p["code"], p["id"], p["line"]) for p in problems]


def test_inline_comment_silences_exactly_its_line_and_code(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(QUIET_AND_LOUD)
    exit_code, data = report(runner, root)
    assert exit_code == 0
    # The other warning of the same endpoint (another line) and the same code elsewhere stay.
    assert codes(data["problems"]) == [("unused-groups", "quiet", 5), ("no-reply", "loud", 7)]
    [suppressed] = data["suppressed"]
    assert (suppressed["code"], suppressed["id"], suppressed["line"], suppressed["message"]) == (
        "no-reply",
        "quiet",
        1,
        NO_REPLY,
    )
    assert suppressed["suppressed_by"] == {
        "kind": "inline",
        "file": "endpoints/site.toml",
        "line": 1,
        "key": None,
        "id": None,
    }
    assert data["summary"] | {"project": None} == {
        "errors": 0,
        "warnings": 2,
        "suppressed": 1,
        "project": None,
        "version": "develop",
        "endpoints": 2,
        "pages": 0,
        "workflows": 0,
    }


def test_text_summary_counts_suppressed(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(QUIET_AND_LOUD)
    result = run(runner, root, "validate")
    assert result.exit_code == 0
    assert "! 0 errors, 2 warnings in 1 file (1 suppressed)" in result.stderr
    assert result.stderr.count("no-reply") == 1


def test_github_annotations_leave_suppressed_out(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(QUIET_AND_LOUD)
    lines = run(runner, root, "validate", "--format", "github").stdout.splitlines()
    assert [line.split("::")[1] for line in lines] == [
        "warning file=endpoints/site.toml,line=5,title=unused-groups",
        "warning file=endpoints/site.toml,line=7,title=no-reply",
    ]


def test_lint_ignore_and_per_file_ignores(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(
        {
            "epctl.toml": """
                [project]
                name = "t"

                [lint]
                ignore = ["unused-groups"]
                per_file_ignores = { "endpoints/legacy/**" = ["no-reply"] }
            """,
            "endpoints/legacy/old.toml": """
                [[endpoint]]
                id = "old"
                method = "GET"
                route = "/old"
                groups = ["staff"]
            """,
            "endpoints/new.toml": """
                [[endpoint]]
                id = "new"
                method = "GET"
                route = "/new"
            """,
        }
    )
    exit_code, data = report(runner, root, "--strict")
    assert exit_code == 1  # the warning left is reported, so --strict still fails
    assert codes(data["problems"]) == [("no-reply", "new", 1)]
    assert [(s["code"], s["id"], s["suppressed_by"]) for s in data["suppressed"]] == [
        (
            "no-reply",
            "old",
            {
                "kind": "lint",
                "file": "epctl.toml",
                "line": 6,
                "key": "lint.per_file_ignores.endpoints/legacy/**",
                "id": None,
            },
        ),
        (
            "unused-groups",
            "old",
            {"kind": "lint", "file": "epctl.toml", "line": 5, "key": "lint.ignore[0]", "id": None},
        ),
    ]


def test_errors_cannot_be_suppressed(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(
        {
            "epctl.toml": """
                [project]
                name = "t"

                [lint]
                ignore = ["route-conflict", "no-replay"]
            """,
            "endpoints/a.toml": """
                [[endpoint]]
                id = "a"
                method = "GET"
                route = "/d/{id}"
                reply = { type = "redirect", to = "/" }

                [[endpoint]]
                id = "b"
                method = "GET"
                route = "/d/{key}"  # epctl: ignore[route-conflict]
                reply = { type = "redirect", to = "/" }
            """,
        }
    )
    exit_code, data = report(runner, root)
    assert exit_code == 1
    assert data["suppressed"] == []
    assert [(p["code"], p["file"], p["line"], p["message"]) for p in data["problems"]] == [
        (
            "invalid-value",
            "endpoints/a.toml",
            10,
            'in `# epctl: ignore[...]`: "route-conflict" is an error and cannot be suppressed: errors stop '
            "serving, so fix it instead (only warnings can be suppressed: no-reply, unknown-version, "
            "unserved-static-file, unused-groups)",
        ),
        (
            "route-conflict",
            "endpoints/a.toml",
            10,
            data["problems"][1]["message"],
        ),
        (
            "invalid-value",
            "epctl.toml",
            5,
            '"no-replay" is not a problem code or audit rule; did you mean "no-reply"?',
        ),
        (
            "invalid-value",
            "epctl.toml",
            5,
            '"route-conflict" is an error and cannot be suppressed: errors stop serving, so fix it instead '
            "(only warnings can be suppressed: no-reply, unknown-version, unserved-static-file, "
            "unused-groups)",
        ),
    ]


def test_unknown_lint_key_is_reported(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project({"epctl.toml": '[project]\nname = "t"\n[lint]\nignores = ["no-reply"]\n'})
    exit_code, data = report(runner, root)
    assert exit_code == 1
    assert [(p["code"], p["line"], p["message"]) for p in data["problems"]] == [
        ("unknown-key", 4, 'unknown key "ignores"; did you mean "ignore"?')
    ]


@pytest.mark.parametrize(
    ("line", "comment"),
    [
        ('id = "a"  # epctl: ignore[no-reply]', " epctl: ignore[no-reply]"),
        ('description = "# not a comment"', None),
        ("description = 'a \\ # b' # c", " c"),  # a literal string has no escapes
        ('description = "a \\" # b" # c', " c"),
        ("[[endpoint]] #x", "x"),
    ],
)
def test_comment_of_skips_strings(line: str, comment: str | None) -> None:
    assert comment_of(line) == comment


def test_parse_directive() -> None:
    assert parse_directive(" epctl: ignore[no-reply, unused-groups ]") == ["no-reply", "unused-groups"]
    assert parse_directive(" just a note") == []


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("endpoints/legacy/**", "endpoints/legacy/a/b.toml", True),
        ("endpoints/*.toml", "endpoints/a.toml", True),
        ("endpoints/*.toml", "endpoints/sub/a.toml", False),
        ("**/old.toml", "endpoints/x/old.toml", True),
        ("**/old.toml", "old.toml", True),
        ("endpoints/a?.toml", "endpoints/ab.toml", True),
        ("endpoints/a.toml", "endpoints/a-toml", False),
    ],
)
def test_glob_regex(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(path)) is matches
