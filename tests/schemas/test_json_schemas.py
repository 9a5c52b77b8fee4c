"""request_schema / response_schema: what `validate` reports, and how schema files are linked and frozen."""

from __future__ import annotations

from pathlib import Path

from epctl.runtime.version_store import freeze_version
from epctl.schemas.json_schemas import endpoint_schemas, schema_refs
from epctl.schemas.loader import load_project, read_project
from epctl.schemas.problems import Severity
from epctl.schemas.version_file import load_version
from tests.conftest import WriteProject

THING = '{"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}\n'


def errors(root: Path) -> list[tuple[str, str, int | None, str]]:
    """Return (code, file, line, message) of every error of the project at `root`."""
    _, problems = read_project(root)
    return [(p.code, p.file, p.line, p.message) for p in problems if p.severity is Severity.ERROR]


def endpoint(method: str, extra: str, id: str = "e") -> str:
    """Return an endpoint table with a redirect reply; `extra` (its schema keys) is on line 6."""
    reply = '{ type = "redirect", to = "/" }'
    return f'[[endpoint]]\nid = "{id}"\nmethod = "{method}"\nroute = "/{id}"\nreply = {reply}\n{extra}\n'


def test_schema_files_are_read_relative_to_their_toml_file(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/api/things.toml": endpoint(
                "POST", 'request_schema = "schemas/thing.json"\nresponse_schema = "../shared.json"'
            ),
            "endpoints/api/schemas/thing.json": THING,
            "endpoints/shared.json": "true",
        }
    )
    project = load_project(root)
    (loaded,) = project.endpoints
    assert loaded.request_schema == "endpoints/api/schemas/thing.json"
    assert loaded.response_schema == "endpoints/shared.json"
    assert endpoint_schemas(project, loaded) == {
        "body": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        "response": True,
    }


def test_a_bare_request_schema_checks_the_body_of_post_put_patch_and_the_query_of_others(
    write_project: WriteProject,
) -> None:
    inline = 'request_schema = { type = "object" }'
    root = write_project(
        {
            "endpoints/a.toml": "".join(
                endpoint(m, inline, m.lower()) for m in ("POST", "PUT", "PATCH", "GET", "DELETE")
            )
        }
    )
    parts = {e.method: [ref.part for ref in schema_refs(e)] for e in load_project(root).endpoints}
    assert parts == {
        "POST": ["body"],
        "PUT": ["body"],
        "PATCH": ["body"],
        "GET": ["query"],
        "DELETE": ["query"],
    }


def test_a_table_with_body_or_query_names_one_schema_per_part(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/a.toml": endpoint(
                "POST",
                'request_schema = { body = "thing.json", query = { properties = { dry = {} } } }',
            ),
            "endpoints/thing.json": THING,
        }
    )
    (loaded,) = load_project(root).endpoints
    assert [(ref.part, ref.key, ref.source) for ref in schema_refs(loaded)] == [
        ("body", "request_schema.body", "endpoints/thing.json"),
        ("query", "request_schema.query", {"properties": {"dry": {}}}),
    ]


def test_a_missing_or_escaping_schema_file_is_reported_at_its_key(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/a.toml": endpoint(
                "GET", 'request_schema = { body = "nope.json", query = "../../etc.json" }'
            )
        }
    )
    assert errors(root) == [
        (
            "missing-file",
            "endpoints/a.toml",
            6,
            'file "nope.json" not found (looked for endpoints/nope.json)',
        ),
        (
            "path-escape",
            "endpoints/a.toml",
            6,
            '"../../etc.json" points outside the project folder; keep templates, handlers and schemas inside '
            "the project",
        ),
    ]


def test_a_schema_that_is_neither_a_path_nor_a_table_is_an_invalid_type(write_project: WriteProject) -> None:
    root = write_project({"endpoints/a.toml": endpoint("GET", "response_schema = 5")})
    assert errors(root) == [
        (
            "invalid-type",
            "endpoints/a.toml",
            6,
            "a schema is the path of a JSON Schema file (a string) or an inline table, not an integer",
        )
    ]


def test_a_part_table_holds_only_body_and_query(write_project: WriteProject) -> None:
    root = write_project(
        {"endpoints/a.toml": endpoint("POST", 'request_schema = { body = "a.json", type = "object" }')}
    )
    assert errors(root) == [
        (
            "unknown-key",
            "endpoints/a.toml",
            6,
            'a request_schema table with "body" or "query" holds only those two keys, not "type"; an inline '
            "schema goes under one of them",
        )
    ]


def test_a_schema_file_that_is_not_json_is_reported_at_its_line(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/a.toml": endpoint("POST", 'request_schema = "bad.json"'),
            "endpoints/bad.json": '{\n  "type": "object",\n  oops\n}\n',
        }
    )
    assert errors(root) == [
        (
            "invalid-schema",
            "endpoints/bad.json",
            3,
            "endpoints/bad.json is not valid JSON: Expecting property name enclosed in double quotes",
        )
    ]


def test_an_invalid_schema_file_is_reported_once_at_the_line_of_the_mistake(
    write_project: WriteProject,
) -> None:
    schema = (
        '{\n  "type": "object",\n  "properties": {\n    "name": {"type": "string", "minLength": -1}\n  }\n}\n'
    )
    root = write_project(
        {
            "endpoints/a.toml": endpoint("POST", 'request_schema = "s.json"', "a")
            + endpoint("PUT", 'request_schema = "s.json"', "b"),
            "endpoints/s.json": schema,
        }
    )
    assert errors(root) == [
        (
            "invalid-schema",
            "endpoints/s.json",
            4,
            "endpoints/s.json is not a valid JSON Schema draft 2020-12: -1 is less than the minimum of 0 at "
            "/properties/name/minLength",
        )
    ]


def test_an_unknown_type_names_the_json_types(write_project: WriteProject) -> None:
    root = write_project({"endpoints/a.toml": endpoint("GET", 'response_schema = { type = "objekt" }')})
    assert errors(root) == [
        (
            "invalid-schema",
            "endpoints/a.toml",
            6,
            'the inline schema is not a valid JSON Schema draft 2020-12: "type" is one of array, boolean, '
            'integer, null, number, object, string (or an array of them), not "objekt" at /type',
        )
    ]


def test_references_must_stay_inside_the_schema_and_point_at_something(write_project: WriteProject) -> None:
    schema = (
        '{"$defs": {"id": {"type": "string"}},\n'
        ' "properties": {"a": {"$ref": "#/$defs/id"},\n'
        '   "b": {"$ref": "#/$defs/no"}, "c": {"$ref": "o.json"}}}\n'
    )
    root = write_project(
        {"endpoints/a.toml": endpoint("POST", 'request_schema = "s.json"'), "endpoints/s.json": schema}
    )
    assert errors(root) == [
        (
            "invalid-schema",
            "endpoints/s.json",
            3,
            'endpoints/s.json: "$ref" at /properties/b/$ref points at "#/$defs/no", which is not in this '
            "schema",
        ),
        (
            "invalid-schema",
            "endpoints/s.json",
            3,
            'endpoints/s.json: "$ref" at /properties/c/$ref names "o.json", outside this schema; only '
            'references inside it are followed (put shared definitions under "$defs" and write '
            '"#/$defs/name")',
        ),
    ]


def test_a_query_schema_describes_an_object(write_project: WriteProject) -> None:
    root = write_project({"endpoints/a.toml": endpoint("GET", 'request_schema = { type = "array" }')})
    assert errors(root) == [
        (
            "invalid-schema",
            "endpoints/a.toml",
            6,
            'a query schema describes the query string, an object of named values: its "type" must be '
            '"object", not "array"',
        )
    ]


def test_an_inline_schema_cannot_hold_a_toml_date(write_project: WriteProject) -> None:
    root = write_project({"endpoints/a.toml": endpoint("POST", "request_schema = { const = 2024-01-01 }")})
    assert errors(root) == [
        (
            "invalid-schema",
            "endpoints/a.toml",
            6,
            "an inline schema holds a TOML date or time, which JSON has no type for; write it as a string",
        )
    ]


def test_schema_files_are_frozen_into_versions(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/a.toml": endpoint("POST", 'request_schema = "schemas/thing.json"'),
            "endpoints/schemas/thing.json": THING,
        }
    )
    freeze_version(root, "v1")
    (root / "endpoints" / "schemas" / "thing.json").write_text('{"type": "string"}', encoding="utf-8")
    version = load_version(root, "v1")
    assert version.files["endpoints/schemas/thing.json"] == THING
    assert endpoint_schemas(version, version.endpoints[0])["body"] == {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
    }
