"""OpenAPI export of request and response schemas: the body as requestBody, the query as parameters, the
response schema on the 2xx reply, each schema a component with its references rebased."""

from __future__ import annotations

from typing import Any

from tests.conftest import WriteProject
from tests.runtime.test_openapi import export, operations

WORKFLOWS = """
[[workflow]]
name = "w"
handler = "w.py:handle"
endpoints = ["e"]
"""
THING = """
{
  "$defs": {"name": {"type": "string", "minLength": 1}},
  "type": "object",
  "required": ["name"],
  "properties": {"name": {"$ref": "#/$defs/name"}}
}
"""


def export_endpoint(write_project: WriteProject, method: str, keys: str, *, settings: str = "") -> Any:
    return export(
        write_project(
            {
                "epctl.toml": f'[project]\nname = "t"\n{settings}',
                "endpoints/e.toml": f'[[endpoint]]\nid = "e"\nmethod = "{method}"\nroute = "/e"\n{keys}\n',
                "endpoints/thing.json": THING,
                "workflows/w.toml": WORKFLOWS,
                "workflows/w.py": "def handle(request):\n    return {}\n",
            }
        )
    )


def test_a_body_schema_is_the_required_json_request_body(write_project: WriteProject) -> None:
    document = export_endpoint(write_project, "POST", 'request_schema = "thing.json"')
    operation = operations(document)["POST /e"]
    assert operation["requestBody"] == {
        "required": True,
        "description": "Checked against the endpoint's request schema before any workflow runs.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/e.request-body"}}},
    }
    # The schema's own references now point into its component.
    assert document["components"]["schemas"]["e.request-body"]["properties"] == {
        "name": {"$ref": "#/components/schemas/e.request-body/$defs/name"}
    }


def test_a_body_schema_accepting_null_makes_the_body_optional(write_project: WriteProject) -> None:
    document = export_endpoint(write_project, "PUT", 'request_schema = { type = ["object", "null"] }')
    assert operations(document)["PUT /e"]["requestBody"]["required"] is False


def test_a_query_schema_is_one_query_parameter_per_property(write_project: WriteProject) -> None:
    keys = (
        "[endpoint.request_schema]\nrequired = ['limit']\n"
        "[endpoint.request_schema.'$defs']\npositive = { type = 'integer', minimum = 1 }\n"
        "[endpoint.request_schema.properties]\n"
        "limit = { '$ref' = '#/$defs/positive' }\ntag = { type = 'array', items = { type = 'string' } }\n"
    )
    document = export_endpoint(write_project, "GET", keys)
    operation = operations(document)["GET /e"]
    assert operation["parameters"] == [
        {
            "name": "limit",
            "in": "query",
            "required": True,
            "schema": {"$ref": "#/components/schemas/e.query/$defs/positive"},
        },
        {
            "name": "tag",
            "in": "query",
            "required": False,
            "schema": {"type": "array", "items": {"type": "string"}},
        },
    ]
    assert "requestBody" not in operation
    bad_request = operation["responses"]["400"]
    assert bad_request["description"] == (
        "Bad request: a request that fails the endpoint's request schema (see `errors`). Or: The reply of a "
        "workflow that answers with this status."
    )
    assert bad_request["content"]["application/json"]["schema"]["anyOf"][0] == {
        "$ref": "#/components/schemas/RequestErrors"
    }
    errors = document["components"]["schemas"]["RequestErrors"]
    assert errors["required"] == ["error"]
    assert errors["properties"]["errors"]["items"]["required"] == ["in", "path", "message"]


def test_a_response_schema_describes_every_2xx_reply(write_project: WriteProject) -> None:
    document = export_endpoint(write_project, "POST", 'response_schema = "thing.json"')
    responses = operations(document)["POST /e"]["responses"]
    assert responses["2XX"] == {
        "description": "The reply of the endpoint's workflows.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/e.response"}}},
    }
    assert "200" not in responses
    assert responses["500"]["description"].startswith("A workflow failed, or none replied. Or: ")


def test_an_enforced_response_schema_is_named_in_the_500(write_project: WriteProject) -> None:
    document = export_endpoint(
        write_project,
        "GET",
        'response_schema = "thing.json"',
        settings="[settings]\nenforce_response_schema = true\n",
    )
    assert operations(document)["GET /e"]["responses"]["500"]["description"].startswith(
        "A workflow failed, or none replied, or the reply failed the endpoint's response schema. Or: "
    )


def test_boolean_schemas_export_as_objects(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/e.toml": '[[endpoint]]\nid = "e"\nmethod = "POST"\nroute = "/e"\n'
            'reply = { type = "redirect", to = "/" }\nrequest_schema = "no.json"\n',
            "endpoints/no.json": "false",
        }
    )
    assert export(root)["components"]["schemas"]["e.request-body"] == {"not": {}}
