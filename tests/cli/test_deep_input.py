"""Deep input: nothing a file holds makes `validate` print a traceback; each is a problem with a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import WriteProject, run

ENDPOINT = '[[endpoint]]\nid = "a"\nmethod = "GET"\nroute = "/a"\n'
WORKFLOW = '[[workflow]]\nname = "w"\nhandler = "w.py:run"\nendpoints = ["a"]\n'


def problems_of(runner: CliRunner, root: Path, *args: str) -> list[tuple[str, str, int | None, str]]:
    result = run(runner, root, "validate", "--format", "json", *args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return [(p["code"], p["file"], p["line"], p["message"]) for p in json.loads(result.stdout)["problems"]]


def test_toml_nested_over_400_levels(runner: CliRunner, write_project: WriteProject) -> None:
    deep = "x = " + "[" * 500 + "]" * 500
    root = write_project({"endpoints/a.toml": "# one\n# two\n" + deep + "\n# after\n"})
    assert problems_of(runner, root) == [
        (
            "toml-syntax",
            "endpoints/a.toml",
            3,
            "TOML syntax error: arrays or inline tables nested more than 400 levels deep",
        )
    ]


def test_a_version_nested_too_deeply_is_a_problem_too(runner: CliRunner, sample: Path) -> None:
    (sample / "versions" / "deep.toml").write_text("x = " + "{a=" * 500 + "1" + "}" * 500 + "\n")
    result = run(runner, sample, "validate", "--version", "deep")
    assert result.exit_code == 1
    assert (
        "versions/deep.toml:1: error toml-syntax" in result.stderr or "nested more than 400" in result.stderr
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "source",
    ["x = " + "-" * 200_000 + "1\n", "x = " + "lambda: " * 100_000 + "1\n"],
    ids=["200000-minus", "100000-lambda"],
)
def test_a_handler_too_deep_for_pythons_parser(
    runner: CliRunner, write_project: WriteProject, source: str
) -> None:
    root = write_project(
        {
            "endpoints/a.toml": ENDPOINT,
            "workflows/w.toml": WORKFLOW,
            "workflows/w.py": "def run(request):\n    return None\n\n" + source,
        }
    )
    assert problems_of(runner, root) == [
        (
            "handler-syntax",
            "workflows/w.py",
            4,
            "Python syntax error: expressions nested too deeply for Python's parser; split them up",
        )
    ]


def test_a_template_of_5000_parentheses(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/a.toml": ENDPOINT + 'reply = { type = "page", page = "p" }\n',
            "pages/p.toml": '[[page]]\nname = "p"\ntemplate = "p.html"\n',
            "pages/p.html": "<p>\n{{ " + "(" * 5_000 + " }}\n</p>\n",
        }
    )
    assert problems_of(runner, root) == [
        (
            "template-syntax",
            "pages/p.html",
            2,
            'template syntax error in page "p": expressions or blocks nested too deeply for the template '
            "parser; split them up",
        )
    ]
