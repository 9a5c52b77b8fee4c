"""An invalid route suggests the route the user likely meant: Losant's `{*any}`, Altogic's missing `/`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from epctl.schemas.loader import read_project
from tests.conftest import WriteProject, run, usage_error


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            "/api/{*any}",
            'route "/api/{*any}" is invalid: Invalid path: /api/{*any}; did you mean "/api/{any*}"? '
            "(a wildcard is written {name*})",
        ),
        (
            "users/{id}",
            'route "users/{id}" is invalid: Invalid path: users/{id}; did you mean "/users/{id}"? '
            '(a route starts with "/")',
        ),
        (
            "files/{*rest}",
            'route "files/{*rest}" is invalid: Invalid path: files/{*rest}; did you mean "/files/{rest*}"? '
            '(a wildcard is written {name*}, a route starts with "/")',
        ),
        # No single fix makes it valid: only the parser's reason.
        ("users/{id", 'route "users/{id" is invalid: Invalid path: users/{id'),
    ],
)
def test_an_invalid_route_suggests_the_likely_route(
    write_project: WriteProject, route: str, message: str
) -> None:
    root = write_project({"endpoints/a.toml": f'[[endpoint]]\nid = "a"\nmethod = "GET"\nroute = "{route}"\n'})
    _, problems = read_project(root)
    assert [(p.code, p.line, p.message) for p in problems if p.code == "invalid-route"] == [
        ("invalid-route", 4, message)
    ]


def test_new_endpoint_suggests_the_leading_slash(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "new", "endpoint", "--kind", "api", "--route", "status/{part}", "--yes")
    assert result.exit_code == 2
    assert usage_error(result) == (
        'Invalid value for --route: route "status/{part}" is invalid: Invalid path: status/{part}; '
        'did you mean "/status/{part}"? (a route starts with "/")'
    )
