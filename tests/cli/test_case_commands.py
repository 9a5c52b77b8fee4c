"""`epctl test`: a version's request cases run in-process, reported with file and line in text, JSON and
JUnit; `promote` runs them first."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from epctl.runtime.cases import find_json_differences
from epctl.schemas.version_file import load_version
from tests.conftest import WriteProject, run, usage_error

ENDPOINTS = """
[[endpoint]]
id = "hello"
method = "GET"
route = "/hello"

[[endpoint]]
id = "boom"
method = "GET"
route = "/boom"

[[endpoint]]
id = "shape"
method = "GET"
route = "/shape"
response_schema = { type = "object", required = ["id"] }
"""
WORKFLOWS = """
[[workflow]]
name = "hello"
handler = "flows.py:hello"
endpoints = ["hello"]

[[workflow]]
name = "boom"
handler = "flows.py:boom"
endpoints = ["boom"]

[[workflow]]
name = "shape"
handler = "flows.py:shape"
endpoints = ["shape"]
"""
FLOWS = """
def hello(request):
    return {"hello": request.query.get("name", "world"), "n": 1}


def boom(request):
    return 1 / 0


def shape(request):
    return {"name": "no id"}
"""
CASES = """
[[case]]
name = "hello passes"
path = "/hello"
query = { name = "ada" }
expect = { status = 200, json = { hello = "ada" } }

[[case]]
name = "hello fails"
path = "/hello"

[case.expect]
status = 201
json = { hello = "bob", n = true }
body_contains = "nope"
headers = { X-Nope = "1" }

[[case]]
name = "boom is a 500"
path = "/boom"
expect = { status = 200 }

[[case]]
name = "shape breaks its schema"
path = "/shape"
expect = { status = 200 }
"""


@pytest.fixture
def project(write_project: WriteProject) -> Path:
    return write_project(
        {
            "endpoints/e.toml": ENDPOINTS,
            "workflows/flows.toml": WORKFLOWS,
            "workflows/flows.py": FLOWS,
            "tests/cases.toml": CASES,
        }
    )


def report_lines(result: Result) -> list[str]:
    """Return the text report's lines with timings blanked."""
    return [re.sub(r", \d+ ms\)", ", _ ms)", line) for line in result.stderr.splitlines()]


def test_the_sample_passes_for_develop(
    runner: CliRunner, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No secret and no API key are needed: the run mints its own."""
    monkeypatch.delenv("EPCTL_SECRET", raising=False)
    result = run(runner, sample, "test")
    assert result.exit_code == 0, result.output
    lines = report_lines(result)
    assert lines[0] == "smart-farm develop: 22 request cases"
    assert "  ✓ tests/api.toml:5  devices with the mobile app's key  (200, _ ms)" in lines
    assert "  ✓ tests/site.toml:47  the sign-in page takes only GET and the form's POST  (405, _ ms)" in lines
    assert lines[-1] == "✓ 22 cases passed"
    assert "EPCTL_SECRET" not in os.environ  # the run's secret is gone again


def test_the_sample_passes_for_a_version_frozen_from_it(runner: CliRunner, sample: Path) -> None:
    assert run(runner, sample, "snapshot", "v2").exit_code == 0
    for folder in ("tests", "endpoints", "workflows"):  # the version needs nothing but its file
        for path in sorted((sample / folder).rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    result = run(runner, sample, "test", "--version", "v2", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"] == {
        "project": "smart-farm",
        "version": "v2",
        "total": 22,
        "passed": 22,
        "failed": 0,
    }
    assert {case["file"] for case in report["cases"]} == {"versions/v2.toml"}
    assert all(isinstance(case["line"], int) for case in report["cases"])


def test_the_sample_frozen_version_has_no_cases(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "test", "--version", "v1.0.0")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "No request cases in smart-farm v1.0.0: develop had none under tests/ when it was frozen.\n"
    )


def test_failing_cases_name_file_line_and_every_difference(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "test")
    assert result.exit_code == 1
    assert report_lines(result) == [
        "t develop: 4 request cases",
        "  ✓ tests/cases.toml:1  hello passes  (200, _ ms)",
        "  ✗ tests/cases.toml:7  hello fails  (200, _ ms)",
        "      status: expected 201, got 200",
        '      header X-Nope: expected "1", got none',
        '      json /hello: expected "bob", got "world"',
        "      json /n: expected true, got 1",
        '      body does not contain "nope"',
        "  ✗ tests/cases.toml:17  boom is a 500  (500, _ ms)",
        "      status: expected 200, got 500",
        '      logged: workflow "boom" (workflows/flows.py:boom) of endpoint "boom" failed on GET /boom '
        "(ZeroDivisionError: division by zero)",
        "  ✗ tests/cases.toml:22  shape breaks its schema  (200, _ ms)",
        "      the reply does not match the endpoint's response_schema: /: 'id' is a required property",
        "✗ 3 failed, 1 passed",
    ]


def test_json_report(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "test", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    boom = report["cases"][2]
    assert {key: boom[key] for key in ("name", "file", "line", "passed", "status", "failures")} == {
        "name": "boom is a 500",
        "file": "tests/cases.toml",
        "line": 17,
        "passed": False,
        "status": 500,
        "failures": ["status: expected 200, got 500"],
    }
    assert report["summary"] == {"project": "t", "version": "develop", "total": 4, "passed": 1, "failed": 3}


def test_junit_report(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "test", "--format", "junit")
    assert result.exit_code == 1
    suites = ET.fromstring(result.stdout)
    assert (suites.tag, suites.get("tests"), suites.get("failures")) == ("testsuites", "4", "3")
    cases = suites.findall("./testsuite/testcase")
    assert [(c.get("classname"), c.get("name"), c.get("file"), c.get("line")) for c in cases] == [
        ("tests.cases", "hello passes", "tests/cases.toml", "1"),
        ("tests.cases", "hello fails", "tests/cases.toml", "7"),
        ("tests.cases", "boom is a 500", "tests/cases.toml", "17"),
        ("tests.cases", "shape breaks its schema", "tests/cases.toml", "22"),
    ]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "status: expected 201, got 200"


def test_bad_format_is_a_usage_error(runner: CliRunner, project: Path) -> None:
    result = run(runner, project, "test", "--format", "xml")
    assert result.exit_code == 2
    assert (
        usage_error(result)
        == "Invalid value for '--format' / '-f': 'xml' is not one of 'text', 'json', 'junit'."
    )


def test_an_invalid_project_is_reported_not_run(runner: CliRunner, project: Path) -> None:
    (project / "tests" / "bad.toml").write_text('[[case]]\nname = "x"\npath = "/"\n', encoding="utf-8")
    result = run(runner, project, "test")
    assert result.exit_code == 1
    assert 'missing-key  missing required key "expect"' in result.stderr


def test_credentials_the_case_sets_itself_are_kept(runner: CliRunner, sample: Path) -> None:
    """A raw key in headers is sent as written (and still valid): the run's own key is an extra one."""
    (sample / "tests" / "raw.toml").write_text(
        '[[case]]\nname = "raw key"\npath = "/api/devices"\n'
        'headers = { Authorization = "sample-mobile-key" }\nexpect = { status = 200 }\n'
        '[[case]]\nname = "key and user"\npath = "/api/me"\napi_key = "mobile-app"\nuser = { sub = "ada" }\n'
        'expect = { json = { sub = "ada" } }\n',
        encoding="utf-8",
    )
    result = run(runner, sample, "test")
    assert result.exit_code == 0, result.output


def test_cookies_do_not_carry_over_from_one_case_to_the_next(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(
        {
            "endpoints/e.toml": '[[endpoint]]\nid = "c"\nmethod = "GET"\nroute = "/c"\n',
            "workflows/w.toml": '[[workflow]]\nname = "c"\nhandler = "w.py:c"\nendpoints = ["c"]\n',
            "workflows/w.py": "from epctl.runtime.replies import reply\n\n\n"
            "def c(request):\n    return reply({'seen': 'seen' in request.cookies}, cookies={'seen': '1'})\n",
            "tests/c.toml": "".join(
                f'[[case]]\nname = "{n}"\npath = "/c"\nexpect = {{ json = {{ seen = false }} }}\n'
                for n in "ab"
            ),
        }
    )
    result = run(runner, root, "test")
    assert result.exit_code == 0, result.output


def test_promote_runs_the_version_cases_and_refuses_a_failure(runner: CliRunner, project: Path) -> None:
    (project / "epctl.toml").write_text('[project]\nname = "t"\n[environments.production]\nversion = "v1"\n')
    assert run(runner, project, "snapshot", "v1").exit_code == 0
    before = (project / "epctl.toml").read_text()
    refused = run(runner, project, "promote", "v1", "--env", "production")
    assert refused.exit_code == 1
    version = load_version(project, "v1")
    at = {name: f"versions/v1.toml:{version.declarations.place('case', name).line}" for name in version.cases}
    assert refused.stderr.strip() == (
        f'Error: version "v1" fails 3 of 4 request cases: {at["hello fails"]} "hello fails" (status: '
        f'expected 201, got 200); {at["boom is a 500"]} "boom is a 500" (status: expected 200, got 500); '
        f'{at["shape breaks its schema"]} "shape breaks its schema" (the reply does not match the '
        "endpoint's response_schema: /: 'id' is a required property); `epctl test --version v1` shows them "
        "all"
    )
    assert (project / "epctl.toml").read_text() == before
    forced = run(runner, project, "promote", "v1", "--env", "production", "--no-test")
    assert forced.exit_code == 0, forced.output


def test_promote_of_a_version_whose_cases_pass(runner: CliRunner, project: Path) -> None:
    (project / "tests" / "cases.toml").write_text(
        CASES.split('[[case]]\nname = "hello fails"')[0], encoding="utf-8"
    )
    assert run(runner, project, "snapshot", "v1").exit_code == 0
    result = run(runner, project, "promote", "v1", "--env", "staging", "--create")
    assert result.exit_code == 0, result.output
    assert "staging → v1 (new environment)" in result.stderr


@pytest.mark.parametrize(
    ("expected", "actual", "differences"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, []),
        ({"a": 1}, {"a": 1.0}, []),
        ({"a": True}, {"a": 1}, ["/a: expected true, got 1"]),
        (
            {"a": {"b": [1, {"c": "x"}]}},
            {"a": {"b": [1, {"c": "y", "d": 0}]}},
            ['/a/b/1/c: expected "x", got "y"'],
        ),
        ({"a/b": 1}, {}, ["/a~1b: missing (expected 1)"]),
        ([1, 2], [1, 2, 3], ["/: expected 2 items, got 3"]),
        ({"a": []}, {"a": {}}, ["/a: expected an array, got {}"]),
        ({}, [], ["/: expected an object, got []"]),
        ("x" * 100, "y", ['/: expected "' + "x" * 78 + '…, got "y"']),
    ],
)
def test_json_expectations_are_a_subset_match(
    expected: object, actual: object, differences: list[str]
) -> None:
    assert list(find_json_differences(expected, actual, "")) == differences
