"""The loader: every problem in every file, each with code, file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from epctl.schemas.loader import ProjectNotFoundError, load_project, read_project
from epctl.schemas.problems import Problem, ProjectError, Severity
from tests.conftest import SAMPLE, WriteProject
from tests.planted import EXPECTED, PLANTED


def codes(problems: list[Problem]) -> list[tuple[str, str, int | None]]:
    return [(p.code, p.file, p.line) for p in problems]


def test_sample_project_loads_without_errors() -> None:
    project, problems = read_project(SAMPLE)
    assert [p for p in problems if p.severity is Severity.ERROR] == []
    assert project.name == "smart-farm"
    assert len(project.endpoints) == 16


def test_ten_planted_mistakes_are_all_reported_in_one_run(write_project: WriteProject) -> None:
    root = write_project(PLANTED)
    _, problems = read_project(root)
    found = codes([p for p in problems if p.severity is Severity.ERROR])
    for expected in EXPECTED:
        assert expected in found, f"{expected} not in {found}"


def test_load_project_raises_with_every_problem(write_project: WriteProject) -> None:
    root = write_project(PLANTED)
    with pytest.raises(ProjectError) as caught:
        load_project(root)
    assert len(caught.value.errors) >= len(EXPECTED)
    assert str(caught.value).startswith("endpoints/broken.toml:4: TOML syntax error")


def test_unknown_key_suggests_the_nearest_known_key(write_project: WriteProject) -> None:
    root = write_project(PLANTED)
    _, problems = read_project(root)
    unknown = next(p for p in problems if p.code == "unknown-key")
    assert unknown.message == 'unknown key "rout"; did you mean "route"?'
    assert unknown.place.key == "endpoint[0].rout"
    assert unknown.place.id == "home"


def test_missing_route_is_reported_once_not_as_a_cascade(write_project: WriteProject) -> None:
    root = write_project(PLANTED)
    _, problems = read_project(root)
    home = [p for p in problems if p.place.id == "home"]
    assert sorted((p.code, p.message) for p in home) == [
        ("missing-key", 'missing required key "route"'),
        ("unknown-key", 'unknown key "rout"; did you mean "route"?'),
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("unknown-page", 'reply names page "abuot", which is not declared in pages/; did you mean "about"?'),
        ("invalid-route", 'route "/users/{id" is invalid: Invalid path: /users/{id'),
        (
            "duplicate-id",
            'endpoint id "about" is already used at endpoints/site.toml:7; endpoint ids must be '
            "unique in the project",
        ),
        ("missing-groups", 'access = "groups" needs the groups allowed in: add groups = ["<group>", ...]'),
        ("invalid-status", "a redirect needs a status from 300 to 399, not 200"),
        (
            "path-escape",
            '"../../outside.html" points outside the project folder; keep templates, handlers '
            "and schemas inside the project",
        ),
        (
            "unknown-handler",
            'workflows/flows.py defines no function "say_hello"; define '
            "`def say_hello(request):` at the top level of that file",
        ),
        ("unknown-endpoint", 'workflow is triggered by endpoint "nowhere", which is not declared'),
    ],
)
def test_main_messages_are_exact(write_project: WriteProject, code: str, message: str) -> None:
    root = write_project(PLANTED)
    _, problems = read_project(root)
    assert message in [p.message for p in problems if p.code == code]


def test_toml_syntax_error_names_the_line(write_project: WriteProject) -> None:
    root = write_project({"endpoints/a.toml": '[[endpoint]]\nid = "a"\nmethod = GET\n'})
    _, problems = read_project(root)
    assert codes(problems) == [("toml-syntax", "endpoints/a.toml", 3)]
    assert problems[0].message.startswith("TOML syntax error: ")


def test_duplicate_id_points_at_both_declarations(write_project: WriteProject) -> None:
    root = write_project(PLANTED)
    _, problems = read_project(root)
    duplicate = next(p for p in problems if p.code == "duplicate-id")
    assert (duplicate.related[0].file, duplicate.related[0].line) == ("endpoints/site.toml", 7)


def test_missing_template_file(write_project: WriteProject) -> None:
    root = write_project({"pages/p.toml": '[[page]]\nname = "p"\ntemplate = "p.html"\n'})
    _, problems = read_project(root)
    assert codes(problems) == [("missing-file", "pages/p.toml", 3)]
    assert problems[0].message == 'file "p.html" not found (looked for pages/p.html)'


def test_template_syntax_error_names_the_template_line(write_project: WriteProject) -> None:
    root = write_project(
        {
            "pages/p.toml": '[[page]]\nname = "p"\ntemplate = "p.html"\n',
            "pages/p.html": "<h1>ok</h1>\n<p>fine</p>\n{{ x + }}\n",
        }
    )
    _, problems = read_project(root)
    assert [(p.code, p.file) for p in problems] == [("template-syntax", "pages/p.html")]
    assert problems[0].line == 3


def test_include_of_an_unknown_component(write_project: WriteProject) -> None:
    root = write_project(
        {
            "pages/p.toml": """
        [[page]]
        name = "p"
        body = '{% include "footr" %}'

        [[component]]
        name = "footer"
        body = "<footer></footer>"
    """
        }
    )
    _, problems = read_project(root)
    assert codes(problems) == [("unknown-component", "pages/p.toml", 3)]
    assert (
        problems[0].message == 'template includes "footr", which is not a declared component; did you '
        'mean "footer"?'
    )


def test_layout_needs_exactly_one_content_block(write_project: WriteProject) -> None:
    root = write_project(
        {
            "pages/p.toml": """
        [[layout]]
        name = "main"
        body = "<main>no slot</main>"
    """
        }
    )
    _, problems = read_project(root)
    assert [p.code for p in problems] == ["layout-slot"]


def test_handler_syntax_error_names_the_handler_line(write_project: WriteProject) -> None:
    root = write_project(
        {
            "workflows/w.toml": '[[workflow]]\nname = "w"\nhandler = "w.py:run"\n',
            "workflows/w.py": "def run(request):\n    return {\n",
        }
    )
    _, problems = read_project(root)
    assert [(p.code, p.file, p.line) for p in problems] == [("handler-syntax", "workflows/w.py", 2)]


def test_handler_code_is_never_run_by_validation(write_project: WriteProject, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    root = write_project(
        {
            "workflows/w.toml": '[[workflow]]\nname = "w"\nhandler = "w.py:run"\n',
            "workflows/w.py": f"open({str(marker)!r}, 'w').write('x')\ndef run(request):\n    return 1\n",
        }
    )
    read_project(root)
    assert not marker.exists()


def test_secrets_in_auth_are_refused_with_a_hint(write_project: WriteProject) -> None:
    root = write_project({"epctl.toml": '[project]\nname = "t"\n[auth]\nsecret = "hunter2"\n'})
    _, problems = read_project(root)
    assert codes(problems) == [("unknown-key", "epctl.toml", 4)]
    assert problems[0].message == (
        'unknown key "secret"; put the secret in an environment variable and name it with `secret_env`'
    )


def test_environment_pointing_at_an_unfrozen_version_is_a_warning(write_project: WriteProject) -> None:
    root = write_project({"epctl.toml": '[project]\nname = "t"\n[environments.prod]\nversion = "v9"\n'})
    _, problems = read_project(root)
    assert [(p.severity, p.code, p.line) for p in problems] == [(Severity.WARNING, "unknown-version", 4)]


def test_single_table_instead_of_array_says_how_to_write_it(write_project: WriteProject) -> None:
    root = write_project({"endpoints/a.toml": '[endpoint]\nid = "a"\n'})
    _, problems = read_project(root)
    assert problems[0].message == '"endpoint" must be an array of tables: write [[endpoint]], not [endpoint]'


def test_wrong_type_message(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/a.toml": """
        [[endpoint]]
        id = "a"
        method = "GET"
        route = "/"
        enabled = "yes"
        reply = { type = "page", page = "p" }
    """,
            "pages/p.toml": '[[page]]\nname = "p"\nbody = "x"\n',
        }
    )
    _, problems = read_project(root)
    assert [(p.code, p.line, p.message) for p in problems] == [
        ("invalid-type", 5, '"enabled" must be true or false, not a string'),
    ]


def test_missing_epctl_toml_is_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match=r"is not an epctl project: it has no epctl\.toml"):
        read_project(tmp_path)


def test_files_outside_the_known_folders_are_ignored(write_project: WriteProject) -> None:
    root = write_project({"notes/scratch.toml": "this is not toml ["})
    assert read_project(root)[1] == []


def test_template_paths_become_project_relative_with_sources(write_project: WriteProject) -> None:
    root = write_project(
        {
            "pages/sub/p.toml": '[[page]]\nname = "p"\ntemplate = "p.html"\n',
            "pages/sub/p.html": "<p>hi</p>\n",
        }
    )
    project = load_project(root)
    assert project.pages["p"].template == "pages/sub/p.html"
    assert project.files["pages/sub/p.html"] == "<p>hi</p>\n"


def test_a_syntax_error_does_not_cascade_into_unknown_references(write_project: WriteProject) -> None:
    """The endpoints of a file that does not parse may exist: workflows naming them are not blamed."""
    root = write_project(
        {
            "endpoints/a.toml": '[[endpoint]]\nid = "a"\nmethod = "GET\n',
            "workflows/w.toml": '[[workflow]]\nname = "w"\nhandler = "w.py:run"\nendpoints = ["a"]\n',
            "workflows/w.py": "def run(request):\n    return {}\n",
        }
    )
    _, problems = read_project(root)
    assert [p.code for p in problems] == ["toml-syntax"]


def test_load_project_is_the_documented_entry_point() -> None:
    """`epctl.schemas.load_project(project_dir)` (README "Architecture")."""
    import epctl.schemas

    assert epctl.schemas.load_project(SAMPLE).name == "smart-farm"


def test_two_api_keys_with_one_hash_are_refused(write_project: WriteProject) -> None:
    """The one key would be allowed the endpoints of both: scopes must never merge silently."""
    digest = "a" * 64
    root = write_project(
        {
            "epctl.toml": f'[project]\nname = "t"\n\n[[api_key]]\nname = "mobile"\nsha256 = "{digest}"\n'
            f'endpoints = ["a"]\n\n[[api_key]]\nname = "admin"\nsha256 = "{digest}"\n',
            "endpoints/a.toml": '[[endpoint]]\nid = "a"\nmethod = "GET"\nroute = "/a"\n'
            'reply = { type = "redirect", to = "/" }\n',
        }
    )
    _, problems = read_project(root)
    [problem] = [p for p in problems if p.severity is Severity.ERROR]
    assert (problem.code, problem.file, problem.line, problem.place.key) == (
        "duplicate-api-key",
        "epctl.toml",
        11,
        "api_key[1].sha256",
    )
    assert problem.message == (
        'API key "admin" has the same sha256 as API key "mobile" (epctl.toml:6): one key would be allowed '
        "the endpoints of both; give each caller its own key"
    )
    assert [(p.file, p.line) for p in problem.related] == [("epctl.toml", 6)]


@pytest.mark.parametrize(
    ("header", "shown"), [('"qa\\nroot"', '"qa\\nroot"'), ('""', '""'), ('"a b"', '"a b"')]
)
def test_environment_names_follow_the_name_rule(write_project: WriteProject, header: str, shown: str) -> None:
    root = write_project(
        {"epctl.toml": f'[project]\nname = "t"\n\n[environments.{header}]\nversion = "v1"\n'}
    )
    _, problems = read_project(root)
    assert [(p.code, p.line, p.message) for p in problems] == [
        (
            "invalid-value",
            4,
            f"environment name {shown} is not valid: use 1-128 characters of A-Z a-z 0-9 . _ -",
        )
    ]


def test_an_unknown_table_is_reported_at_its_header(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/a.toml": '[[endpoint]]\nid = "a"\nmethod = "GET"\nroute = "/a"\n\n'
            '[[endpont]]\nid = "b"\n',
            "pages/p.toml": '[[page]]\nname = "p"\nbody = "x"\n\n[extra]\na = 1\n',
        }
    )
    _, problems = read_project(root)
    assert [(p.file, p.line, p.place.key, p.message) for p in problems if p.code == "unknown-key"] == [
        (
            "endpoints/a.toml",
            6,
            "endpont",
            'unknown table "endpont" in endpoints/ files; did you mean "endpoint"?',
        ),
        (
            "pages/p.toml",
            5,
            "extra",
            'unknown table "extra" in pages/ files; valid keys: component, layout, page',
        ),
    ]


def test_every_problem_of_a_reply_is_reported_in_one_run(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/a.toml": '[[endpoint]]\nid = "a"\nmethod = "GET"\nroute = "/a"\n'
            'reply = { type = "page", page = "nope", status = 99 }\n',
            "epctl.toml": '[project]\nname = "t"\n\n[settings]\n'
            'not_found_reply = { type = "redirect", to = "/", status = 200 }\n',
        }
    )
    _, problems = read_project(root)
    assert [(p.code, p.file, p.line, p.place.key, p.message) for p in problems] == [
        (
            "invalid-status",
            "epctl.toml",
            5,
            "settings.not_found_reply.status",
            "a redirect needs a status from 300 to 399, not 200",
        ),
        (
            "unknown-page",
            "endpoints/a.toml",
            5,
            "endpoint[0].reply.page",
            'reply names page "nope", which is not declared in pages/',
        ),
        (
            "invalid-status",
            "endpoints/a.toml",
            5,
            "endpoint[0].reply.status",
            "status 99 is not an HTTP status (100-599)",
        ),
    ]
