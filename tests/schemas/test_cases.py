"""`[[case]]` tables of tests/: read by the loader with file and line, checked, frozen into versions."""

from __future__ import annotations

from pathlib import Path

from epctl.runtime.diff import diff_contents
from epctl.runtime.version_store import freeze_version, read_content
from epctl.schemas.loader import load_project, read_project
from epctl.schemas.problems import Severity
from epctl.schemas.version_file import load_version
from tests.conftest import WriteProject

KEYED = '[project]\nname = "t"\n[[api_key]]\nname = "mobile"\nsha256 = "' + "0" * 64 + '"\n'


def problems(root: Path) -> list[tuple[str, int | None, str, str | None]]:
    """Return (code, line, message, key) of every error of the project at `root`."""
    _, found = read_project(root)
    errors = [(p.code, p.line, p.message, p.place.key) for p in found if p.severity is Severity.ERROR]
    return sorted(errors, key=lambda error: (error[1] or 0, error[3] or ""))


def test_cases_are_read_from_every_toml_file_under_tests(write_project: WriteProject) -> None:
    root = write_project(
        {
            "tests/site.toml": """
                [[case]]
                name = "home page"
                path = "/"
                expect = { status = 200, body_contains = "Welcome" }
                """,
            "tests/api/devices.toml": """
                [[case]]
                name = "create a device"
                method = "POST"
                path = "/api/devices"
                json = { name = "Pump", tags = ["a"] }
                user = { sub = "ada", groups = ["admins"] }
                query = { dry = "1", tag = ["x", "y"] }

                [case.expect]
                status = 201
                json = { id = "pump" }
                """,
        }
    )
    project = load_project(root)
    assert list(project.cases) == ["create a device", "home page"]  # files in path order
    created = project.cases["create a device"]
    assert created.json_body == {"name": "Pump", "tags": ["a"]}
    assert created.expect.json_body == {"id": "pump"}
    assert created.query == {"dry": "1", "tag": ["x", "y"]}
    assert project.cases["home page"].expect.body_contains == ["Welcome"]
    place = project.declarations.place("case", "create a device")
    assert (place.file, place.line) == ("tests/api/devices.toml", 1)


def test_case_mistakes_are_problems_with_their_line(write_project: WriteProject) -> None:
    root = write_project(
        {
            "epctl.toml": KEYED,
            "tests/a.toml": """
                [[case]]
                name = "one"
                method = "FETCH"
                path = "/a?b=1"
                jsn = {}
                query = { limit = 5 }
                api_key = "mobil"
                expect = { status = 999, body_matches = "(" }

                [[case]]
                name = "two"
                path = "/"
                json = { a = 1 }
                form = { a = "1" }
                expect = { status = 200 }

                [[case]]
                name = "three"
                path = "/"
                json = { when = 2024-01-01 }
                expect = {}
                """,
        }
    )
    assert problems(root) == [
        (
            "invalid-value",
            3,
            "\"method\" must be 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS' or 'HEAD', not 'FETCH'",
            "case[0].method",
        ),
        (
            "invalid-value",
            4,
            'path is the request path as sent, starting with "/", with no spaces; put the query in '
            '`query = { name = "value" }`',
            "case[0].path",
        ),
        ("unknown-key", 5, 'unknown key "jsn"; did you mean "json"?', "case[0].jsn"),
        (
            "invalid-type",
            6,
            'query values are strings, or arrays of strings for a repeated name: write limit = "5"',
            "case[0].query.limit",
        ),
        (
            "invalid-value",
            8,
            "body_matches is not a valid regular expression: missing ), unterminated subpattern at "
            "position 0",
            "case[0].expect.body_matches",
        ),
        ("invalid-status", 8, "status 999 is not an HTTP status (100-599)", "case[0].expect.status"),
        ("invalid-value", 10, "set one of `json` and `form`: a request has one body", "case[1]"),
        ("invalid-value", 20, "JSON has no dates or times: write this value as a string", "case[2].json"),
        (
            "invalid-value",
            21,
            "expect at least one of status, headers, json, body_contains, body_matches, redirect",
            "case[2].expect",
        ),
    ]


def test_a_case_calling_with_an_undeclared_api_key_suggests_the_declared_one(
    write_project: WriteProject,
) -> None:
    root = write_project(
        {
            "epctl.toml": KEYED,
            "tests/a.toml": '[[case]]\nname = "k"\npath = "/"\napi_key = "mobil"\n'
            "expect = { status = 200 }\n",
        }
    )
    assert problems(root) == [
        (
            "unknown-api-key",
            4,
            'case calls with API key "mobil", which is not declared: api_key names an [[api_key]] of '
            'epctl.toml; did you mean "mobile"?',
            "case[0].api_key",
        )
    ]


def test_case_names_are_unique_and_on_one_line(write_project: WriteProject) -> None:
    root = write_project(
        {
            "tests/a.toml": '[[case]]\nname = "same"\npath = "/"\nexpect = { status = 200 }\n',
            "tests/b.toml": '[[case]]\nname = "same"\npath = "/"\nexpect = { status = 200 }\n'
            '[[case]]\nname = "two\\nlines"\npath = "/"\nexpect = { status = 200 }\n',
        }
    )
    assert problems(root) == [
        (
            "duplicate-name",
            2,
            'case name "same" is already used at tests/a.toml:2; case names must be unique in the project',
            "case[0].name",
        ),
        ("invalid-value", 6, "a case name is 1-200 characters on one line", "case[1].name"),
    ]


def test_cases_are_frozen_into_versions_and_diffed(write_project: WriteProject) -> None:
    case = (
        '[[case]]\nname = "home"\npath = "/"\njson = { a = 1 }\n'
        "expect = { status = {status}, json = { ok = true } }\n"
    )
    root = write_project({"tests/site.toml": case.replace("{status}", "200")})
    freeze_version(root, "v1")
    (root / "tests" / "site.toml").write_text(case.replace("{status}", "201"), encoding="utf-8")
    version = load_version(root, "v1")
    assert version.cases["home"].expect.status == 200
    assert version.cases["home"].json_body == {"a": 1}
    assert version.table_files["tests/site.toml"] == case.replace("{status}", "200")
    changes = diff_contents(read_content(root, "v1"), read_content(root, "develop")).changes
    assert [(c.section, c.name, c.kind, c.fields) for c in changes] == [
        (
            "case",
            "home",
            "changed",
            {
                "expect": (
                    {"status": 200, "headers": {}, "json": {"ok": True}, "body_contains": []},
                    {"status": 201, "headers": {}, "json": {"ok": True}, "body_contains": []},
                )
            },
        )
    ]
