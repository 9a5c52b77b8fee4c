"""README "Request and response schemas": a request failing its request_schema is 400 before any
workflow runs; a reply failing its response_schema is logged, and 500 only when the settings enforce
it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from werkzeug.test import Client

from tests.conftest import MakeClient, WriteProject

THING = """
{
  "type": "object",
  "required": ["name"],
  "properties": {"name": {"type": "string", "minLength": 1}, "size": {"type": "integer"}},
  "additionalProperties": false
}
"""
ENDPOINTS = """
[[endpoint]]
id = "create"
method = "POST"
route = "/things"
request_schema = "schemas/thing.json"
response_schema = { type = "object", required = ["id"], properties = { id = { type = "string" } } }

[[endpoint]]
id = "list"
method = "GET"
route = "/things"

[endpoint.request_schema]
type = "object"
additionalProperties = false

[endpoint.request_schema.properties]
limit = { type = "integer", minimum = 1 }
tag = { type = "array", items = { type = "string" } }
full = { type = "boolean" }

[[endpoint]]
id = "calls"
method = "GET"
route = "/calls"
access = "public"
"""
WORKFLOWS = """
[[workflow]]
name = "create"
handler = "things.py:create"
endpoints = ["create"]

[[workflow]]
name = "list"
handler = "things.py:list_things"
endpoints = ["list"]

[[workflow]]
name = "calls"
handler = "things.py:calls"
endpoints = ["calls"]
"""
HANDLERS = """
CALLS = []


def create(request):
    CALLS.append(request.body)
    if request.body["name"] == "broken":
        return {"identifier": 1}
    if request.body["name"] == "html":
        return "<p>made</p>"
    if request.body["name"] == "missing":
        return {"error": "no"}, 404
    return {"id": request.body["name"]}, 201


def list_things(request):
    CALLS.append(request.query)
    return {"query": request.query}


def calls(request):
    return {"calls": len(CALLS)}
"""


@pytest.fixture
def project(write_project: WriteProject) -> Path:
    return write_project(
        {
            "endpoints/things.toml": ENDPOINTS,
            "endpoints/schemas/thing.json": THING,
            "workflows/things.toml": WORKFLOWS,
            "workflows/things.py": HANDLERS,
        }
    )


@pytest.fixture
def client(project: Path, make_client: MakeClient) -> Client:
    return make_client(project)


def calls(client: Client) -> int:
    count: int = client.get("/calls").json["calls"]
    return count


def test_a_body_that_matches_its_schema_reaches_the_workflows(client: Client) -> None:
    response = client.post("/things", json={"name": "pump", "size": 3})
    assert (response.status_code, response.json) == (201, {"id": "pump"})
    assert calls(client) == 1


def test_a_body_failing_its_schema_is_400_with_every_error_and_no_workflow_runs(client: Client) -> None:
    response = client.post("/things", json={"name": "", "size": "3", "colour": "red"})
    assert response.status_code == 400
    assert response.json == {
        "error": "Bad request",
        "errors": [
            {
                "in": "body",
                "path": "",
                "message": "Additional properties are not allowed ('colour' was unexpected)",
            },
            {"in": "body", "path": "/name", "message": "'' should be non-empty"},
            {"in": "body", "path": "/size", "message": "'3' is not of type 'integer'"},
        ],
    }
    assert calls(client) == 0


def test_a_missing_body_is_400_asking_for_json(client: Client) -> None:
    response = client.post("/things")
    assert response.status_code == 400
    assert response.json["errors"] == [
        {"in": "body", "path": "", "message": "a JSON body is required (Content-Type: application/json)"}
    ]
    assert calls(client) == 0


def test_a_body_that_is_not_json_is_400_saying_so(client: Client) -> None:
    response = client.post("/things", data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json["errors"] == [{"in": "body", "path": "", "message": "the body is not valid JSON"}]
    assert calls(client) == 0


def test_query_values_are_read_as_the_types_the_schema_declares(client: Client) -> None:
    response = client.get("/things?limit=5&tag=a&tag=b&full=true")
    assert response.status_code == 200
    # The workflow still sees the query as text, the last value of a repeated name winning.
    assert response.json == {"query": {"limit": "5", "tag": "b", "full": "true"}}


def test_a_query_failing_its_schema_is_400_and_no_workflow_runs(client: Client) -> None:
    response = client.get("/things?limit=0&full=yes&colour=red")
    assert response.status_code == 400
    assert response.json["errors"] == [
        {
            "in": "query",
            "path": "",
            "message": "Additional properties are not allowed ('colour' was unexpected)",
        },
        {"in": "query", "path": "/full", "message": "'yes' is not of type 'boolean'"},
        {"in": "query", "path": "/limit", "message": "0 is less than the minimum of 1"},
    ]
    assert calls(client) == 0


def test_credentials_in_the_query_are_not_checked_by_a_strict_query_schema(client: Client) -> None:
    assert client.get("/things?apikey=k&authorization=t").status_code == 200


def test_errors_are_bounded_in_number_and_length(
    write_project: WriteProject, make_client: MakeClient
) -> None:
    properties = ", ".join(f"p{i} = {{ type = 'integer' }}" for i in range(50))
    root = write_project(
        {
            "endpoints/a.toml": f"""
                [[endpoint]]
                id = "a"
                method = "POST"
                route = "/a"
                request_schema = {{ type = "object", properties = {{ {properties} }} }}
                reply = {{ type = "redirect", to = "/" }}
                """
        }
    )
    body = {f"p{i}": "x" * 10_000 for i in range(50)}
    response = make_client(root).post("/a", json=body)
    errors = response.json["errors"]
    assert len(errors) == 20
    assert max(len(error["message"]) for error in errors) == 200
    assert errors[0]["message"].endswith("…")


def test_a_static_reply_is_also_held_to_the_request_schema(
    write_project: WriteProject, make_client: MakeClient
) -> None:
    root = write_project(
        {
            "endpoints/a.toml": """
                [[endpoint]]
                id = "a"
                method = "GET"
                route = "/a"
                request_schema = { required = ["q"] }
                reply = { type = "redirect", to = "/b" }
                """
        }
    )
    client = make_client(root)
    assert client.get("/a?q=1").status_code == 301
    assert client.get("/a").json == {
        "error": "Bad request",
        "errors": [{"in": "query", "path": "", "message": "'q' is a required property"}],
    }


def test_access_is_checked_before_the_request_schema(
    write_project: WriteProject, make_client: MakeClient
) -> None:
    root = write_project(
        {
            "epctl.toml": '[project]\nname = "t"\n[[api_key]]\nname = "k"\nsha256 = "' + "0" * 64 + '"\n',
            "endpoints/a.toml": """
                [[endpoint]]
                id = "a"
                method = "POST"
                route = "/a"
                api_key = true
                request_schema = { required = ["q"] }
                reply = { type = "redirect", to = "/b" }
                """,
        }
    )
    assert make_client(root).post("/a", json={}).status_code == 401


def test_a_reply_failing_its_response_schema_is_logged_and_sent(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="epctl.runtime.contracts"):
        response = client.post("/things", json={"name": "broken"})
    assert (response.status_code, response.json) == (200, {"identifier": 1})
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            'the reply of endpoint "create" to POST /things does not match its response_schema: '
            "/: 'id' is a required property",
        )
    ]


def test_a_reply_that_is_not_json_fails_its_response_schema(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="epctl.runtime.contracts"):
        assert client.post("/things", json={"name": "html"}).status_code == 200
    assert caplog.records[0].getMessage().endswith("/: the reply is text/html, not JSON")


def test_error_replies_are_not_held_to_the_response_schema(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="epctl.runtime.contracts"):
        assert client.post("/things", json={"name": "missing"}).status_code == 404
    assert caplog.records == []


def test_enforced_response_schemas_answer_500_instead(
    project: Path, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    (project / "epctl.toml").write_text(
        '[project]\nname = "t"\n[settings]\nenforce_response_schema = true\n', encoding="utf-8"
    )
    client = make_client(project)
    with caplog.at_level(logging.WARNING, logger="epctl.runtime.contracts"):
        response = client.post("/things", json={"name": "broken"})
    assert (response.status_code, response.json) == (500, {"error": "Internal server error"})
    assert caplog.records[0].levelname == "ERROR"
    assert client.post("/things", json={"name": "fine"}).status_code == 201


def test_a_frozen_version_enforces_its_own_schemas(project: Path) -> None:
    from epctl.runtime import create_app
    from epctl.runtime.version_store import freeze_version

    freeze_version(project, "v1")
    (project / "endpoints" / "schemas" / "thing.json").write_text("true", encoding="utf-8")
    version = Client(create_app(project, version="v1"))
    assert version.post("/things", json={"size": 1}).status_code == 400
    assert (
        Client(create_app(project)).post("/things", json={"size": 1}).status_code == 500
    )  # KeyError in handler
