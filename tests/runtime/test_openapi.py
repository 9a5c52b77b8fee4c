"""OpenAPI 3.1 export: every route shape translated as the router serves it, access as security,
responses as the runtime answers them, and every document valid per openapi-spec-validator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from epctl.runtime.openapi import build_openapi
from epctl.schemas.loader import load_project
from epctl.schemas.version_file import load_version
from tests.conftest import SAMPLE, WriteProject

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
TOKENS: list[dict[str, list[str]]] = [{"bearerToken": []}, {"sessionHeader": []}, {"tokenCookie": []}]
KEYS: list[dict[str, list[str]]] = [{"apiKeyHeader": []}, {"apiKeyQuery": []}]


def endpoint_toml(route: str, *, id: str = "e", method: str = "GET", extra: str = "") -> str:
    return (
        f'[[endpoint]]\nid = "{id}"\nmethod = "{method}"\nroute = "{route}"\n'
        f'reply = {{ type = "redirect", to = "/" }}\n{extra}\n'
    )


def export(project_dir: Path, *, root: str = "", internal: bool = False) -> Any:
    """Return the OpenAPI of develop of `project_dir` as parsed JSON, after checking it is valid."""
    document = json.loads(json.dumps(build_openapi(load_project(project_dir), root=root, internal=internal)))
    validate(document)
    # OpenAPI counts paths that differ only in parameter names as one; the validator does not check it.
    paths = document["paths"]
    blanked = [re.sub(r"\{[^}]*\}", "{}", path) for path in paths]
    assert len(blanked) == len(set(blanked)), list(paths)
    return document


def export_route(write_project: WriteProject, route: str) -> Any:
    return export(write_project({"endpoints/e.toml": endpoint_toml(route)}))


def operations(document: Any) -> dict[str, Any]:
    """Return {"GET /path": operation} for every operation of a document."""
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def params(operation: Any) -> list[tuple[str, Any]]:
    return [(p["name"], p["schema"]) for p in operation.get("parameters", [])]


# -- route shapes of README "Routes" ---------------------------------------------------------------


def test_literal_route_is_its_own_path(write_project: WriteProject) -> None:
    ops = operations(export_route(write_project, "/devices/all"))
    assert list(ops) == ["GET /devices/all"]
    assert "parameters" not in ops["GET /devices/all"]
    assert ops["GET /devices/all"]["operationId"] == "e"


def test_root_and_trailing_slash_routes_keep_their_paths(write_project: WriteProject) -> None:
    root = write_project(
        {"endpoints/e.toml": endpoint_toml("/", id="root") + endpoint_toml("/a/", id="slash")}
    )
    assert list(operations(export(root))) == ["GET /", "GET /a/"]


def test_param_is_a_required_non_empty_string(write_project: WriteProject) -> None:
    ops = operations(export_route(write_project, "/devices/{deviceId}"))
    operation = ops["GET /devices/{deviceId}"]
    assert operation["parameters"] == [
        {"name": "deviceId", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    ]


def test_optional_last_param_is_the_two_paths_it_serves(write_project: WriteProject) -> None:
    ops = operations(export_route(write_project, "/devices/{deviceId}/{attribute?}"))
    assert list(ops) == ["GET /devices/{deviceId}", "GET /devices/{deviceId}/{attribute}"]
    short, full = ops["GET /devices/{deviceId}"], ops["GET /devices/{deviceId}/{attribute}"]
    assert (short["operationId"], full["operationId"]) == ("e:without-attribute", "e")
    assert params(short) == [("deviceId", {"type": "string", "minLength": 1})]
    assert params(full) == [
        ("deviceId", {"type": "string", "minLength": 1}),
        ("attribute", {"type": "string"}),
    ]
    assert full["parameters"][1]["description"] == (
        "Optional last segment: `/devices/{deviceId}` is served too, with `attribute` absent; "
        "`/devices/{deviceId}/` gives `attribute` = ''."
    )
    assert short["description"] == (
        "The route `/devices/{deviceId}/{attribute?}` without its optional last segment `attribute`."
    )
    assert short["x-epctl-endpoint"] == full["x-epctl-endpoint"] == "e"


def test_optional_param_at_the_root_is_slash_and_one_segment(write_project: WriteProject) -> None:
    ops = operations(export_route(write_project, "/{page?}"))
    assert list(ops) == ["GET /", "GET /{page}"]


def test_wildcard_is_one_param_with_a_pattern_and_its_absent_form_noted(write_project: WriteProject) -> None:
    ops = operations(export_route(write_project, "/files/{path*}"))
    assert list(ops) == ["GET /files/{path}"]
    operation = ops["GET /files/{path}"]
    [parameter] = operation["parameters"]
    assert parameter == {
        "name": "path",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[^/]*(?:/[^/]*)*$"},
        "description": "The rest of the path: any number of segments with their `/` separators, possibly "
        "empty (`/files/` gives `path` = ''). `/files` is served too, with `path` absent, unless another "
        "route matches it.",
    }
    assert operation["x-epctl-absent-wildcard"] == "/files"


def test_wildcard_at_the_root_has_no_absent_form(write_project: WriteProject) -> None:
    operation = operations(export_route(write_project, "/{rest*}"))["GET /{rest}"]
    assert "x-epctl-absent-wildcard" not in operation


def test_multi_segment_param_is_one_param_spanning_n_segments(write_project: WriteProject) -> None:
    ops = operations(export_route(write_project, "/test/{pair*2}/end"))
    operation = ops["GET /test/{pair}/end"]
    [parameter] = operation["parameters"]
    assert parameter["schema"] == {"type": "string", "pattern": "^[^/]+(?:/[^/]+){1}$"}
    assert parameter["description"] == (
        "Exactly 2 non-empty path segments, joined by `/` as they appear in the path; "
        "an encoded `%2F` does not separate segments."
    )
    assert re.fullmatch(parameter["schema"]["pattern"], "a/b")
    assert not re.fullmatch(parameter["schema"]["pattern"], "a/b/c")


def test_mixed_segment_is_two_params_in_one_segment(write_project: WriteProject) -> None:
    ops = operations(export_route(write_project, "/files/{name}.{ext}"))
    operation = ops["GET /files/{name}.{ext}"]
    assert params(operation) == [
        ("name", {"type": "string", "minLength": 1}),
        ("ext", {"type": "string", "minLength": 1}),
    ]


def test_literal_prefix_mixed_segment_keeps_its_literal(write_project: WriteProject) -> None:
    ops = operations(export_route(write_project, "/api/v{n}/items"))
    assert params(ops["GET /api/v{n}/items"]) == [("n", {"type": "string", "minLength": 1})]


def test_optional_param_in_a_mixed_segment_may_be_empty(write_project: WriteProject) -> None:
    ops = operations(export_route(write_project, "/a{b?}c{d}/x"))
    operation = ops["GET /a{b}c{d}/x"]
    assert params(operation) == [("b", {"type": "string"}), ("d", {"type": "string", "minLength": 1})]
    assert operation["parameters"][0]["description"] == "May be empty."


def test_routes_differing_only_in_param_names_share_one_path(write_project: WriteProject) -> None:
    """OpenAPI counts `/d/{id}` and `/d/{key}` as one path; the later method takes the first spelling."""
    root = write_project(
        {
            "endpoints/e.toml": endpoint_toml("/d/{id}", id="read")
            + endpoint_toml("/d/{key}", id="write", method="PUT")
        }
    )
    ops = operations(export(root))
    assert list(ops) == ["GET /d/{id}", "PUT /d/{id}"]
    assert params(ops["PUT /d/{id}"]) == [("id", {"type": "string", "minLength": 1})]
    assert ops["PUT /d/{id}"]["x-epctl-route"] == "/d/{key}"


@pytest.mark.parametrize("order", ["param first", "wildcard first"])
def test_catch_all_sharing_a_path_with_a_param_route_is_named_on_it(
    write_project: WriteProject, order: str
) -> None:
    """`/f/{name}` and `/f/{rest*}` coexist in one method; OpenAPI has one `/f/{...}`: the param route's."""
    param, wildcard = endpoint_toml("/f/{name}", id="file"), endpoint_toml("/f/{rest*}", id="rest")
    root = write_project(
        {"endpoints/e.toml": param + wildcard if order == "param first" else wildcard + param}
    )
    ops = operations(export(root))
    assert list(ops) == ["GET /f/{name}"]
    operation = ops["GET /f/{name}"]
    assert operation["operationId"] == "file"
    assert params(operation) == [("name", {"type": "string", "minLength": 1})]
    assert operation["x-epctl-shadowed"] == [{"endpoint": "rest", "route": "/f/{rest*}"}]
    assert operation["description"] == (
        "Other requests under this path (more segments, or none) reach `/f/{rest*}` (operation `rest`)."
    )


# -- what the document says about endpoints ---------------------------------------------------------


def test_disabled_endpoints_are_left_out(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/e.toml": endpoint_toml("/on", id="on")
            + endpoint_toml("/off", id="off", extra="enabled = false")
        }
    )
    assert list(operations(export(root))) == ["GET /on"]


def test_description_is_internal_and_summary_is_public(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/e.toml": endpoint_toml(
                "/a", extra='summary = "Read a"\ndescription = "calls the legacy backend on 10.0.0.7"'
            )
        }
    )
    public = operations(export(root))["GET /a"]
    assert public["summary"] == "Read a"
    assert "description" not in public
    internal = operations(export(root, internal=True))["GET /a"]
    assert internal["description"] == "calls the legacy backend on 10.0.0.7"


def test_tags_are_key_value_openapi_tags(write_project: WriteProject) -> None:
    root = write_project(
        {"endpoints/e.toml": endpoint_toml("/a", extra='tags = { team = "iot", tier = "gold" }')}
    )
    document = export(root)
    assert operations(document)["GET /a"]["tags"] == ["team:iot", "tier:gold"]
    assert document["tags"] == [{"name": "team:iot"}, {"name": "tier:gold"}]


def test_root_is_the_server_url(write_project: WriteProject) -> None:
    root = write_project({"endpoints/e.toml": endpoint_toml("/a")})
    assert export(root)["servers"] == [{"url": "/"}]
    assert export(root, root="/farm")["servers"] == [{"url": "/farm"}]


def test_public_endpoint_has_no_security(write_project: WriteProject) -> None:
    document = export_route(write_project, "/a")
    assert "security" not in operations(document)["GET /a"]
    assert "securitySchemes" not in document.get("components", {})


def test_api_key_endpoint_takes_the_key_in_header_or_query(write_project: WriteProject) -> None:
    root = write_project({"endpoints/e.toml": endpoint_toml("/a", extra="api_key = true")})
    document = export(root)
    assert operations(document)["GET /a"]["security"] == KEYS
    schemes = document["components"]["securitySchemes"]
    assert schemes == {
        "apiKeyHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An API key as the whole `Authorization` header (not `Bearer ...`).",
        },
        "apiKeyQuery": {
            "type": "apiKey",
            "in": "query",
            "name": "apikey",
            "description": "An API key in the `apikey` query parameter.",
        },
    }


def test_authenticated_endpoint_takes_any_token_transport(write_project: WriteProject) -> None:
    root = write_project({"endpoints/e.toml": endpoint_toml("/a", extra='access = "authenticated"')})
    document = export(root)
    assert operations(document)["GET /a"]["security"] == TOKENS
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A user token in `Authorization: Bearer <token>`.",
    }
    assert (schemes["sessionHeader"]["in"], schemes["sessionHeader"]["name"]) == ("header", "Session")
    assert (schemes["tokenCookie"]["in"], schemes["tokenCookie"]["name"]) == ("cookie", "authorization")


def test_token_and_api_key_are_both_required(write_project: WriteProject) -> None:
    """AND-ed: a token transport with a key transport, never bearer with the key header (one header)."""
    root = write_project(
        {"endpoints/e.toml": endpoint_toml("/a", extra='access = "authenticated"\napi_key = true')}
    )
    assert operations(export(root))["GET /a"]["security"] == [
        {"bearerToken": [], "apiKeyQuery": []},
        {"sessionHeader": [], "apiKeyHeader": []},
        {"sessionHeader": [], "apiKeyQuery": []},
        {"tokenCookie": [], "apiKeyHeader": []},
        {"tokenCookie": [], "apiKeyQuery": []},
    ]


def test_groups_are_named_in_the_operation(write_project: WriteProject) -> None:
    root = write_project(
        {"endpoints/e.toml": endpoint_toml("/a", extra='access = "groups"\ngroups = ["admins", "ops"]')}
    )
    operation = operations(export(root))["GET /a"]
    assert operation["security"] == TOKENS
    assert operation["x-epctl-groups"] == ["admins", "ops"]
    assert operation["description"] == "Only for signed-in users in one of the groups: admins, ops."


# -- responses --------------------------------------------------------------------------------------


def test_redirect_reply_is_its_status_with_a_location(write_project: WriteProject) -> None:
    responses = operations(export_route(write_project, "/old"))["GET /old"]["responses"]
    assert responses == {
        "301": {
            "description": "The endpoint's reply. A redirect.",
            "headers": {"Location": {"description": "The redirect target.", "schema": {"type": "string"}}},
        },
        "404": {"description": "No route matches the path.", "content": ERROR},
    }


def test_page_reply_is_its_status_and_media_type(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/e.toml": """
                [[endpoint]]
                id = "gone"
                method = "GET"
                route = "/gone"
                reply = { type = "page", page = "gone", status = 410 }
            """,
            "pages/p.toml": """
                [[page]]
                name = "gone"
                body = "gone"
            """,
        }
    )
    responses = operations(export(root))["GET /gone"]["responses"]
    assert responses["410"] == {
        "description": "The endpoint's reply.",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }


def test_workflow_endpoint_documents_any_reply_and_a_500(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/e.toml": '[[endpoint]]\nid = "make"\nmethod = "POST"\nroute = "/things"\n',
            "workflows/w.toml": '[[workflow]]\nname = "make"\nhandler = "w.py:make"\nendpoints = ["make"]\n',
            "workflows/w.py": "def make(request):\n    return {}, 201\n",
        }
    )
    operation = operations(export(root))["POST /things"]
    # A workflow may answer any status itself: the runtime's documented ones included.
    either = {
        "application/json": {
            "schema": {
                "anyOf": [{"$ref": "#/components/schemas/Error"}, {"description": "A workflow's own reply."}]
            }
        },
        "*/*": {"schema": {}},
    }
    workflow = "Or: The reply of a workflow that answers with this status."
    assert operation["responses"] == {
        "200": {"description": "The reply of the endpoint's workflows."},
        "400": {
            "description": f"Bad request: a JSON body that does not parse. {workflow}",
            "content": either,
        },
        "404": {"description": f"No route matches the path. {workflow}", "content": either},
        "500": {"description": f"A workflow failed, or none replied. {workflow}", "content": either},
        "default": {"description": "Another status a workflow replies with."},
    }
    assert operation["requestBody"] == {
        "required": False,
        "description": "Read by the endpoint's workflows: JSON, a form, or text.",
        "content": {
            "application/json": {"schema": {}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        },
    }


def test_endpoint_without_any_reply_documents_only_its_500(write_project: WriteProject) -> None:
    root = write_project({"endpoints/e.toml": '[[endpoint]]\nid = "e"\nmethod = "GET"\nroute = "/x"\n'})
    assert list(operations(export(root))["GET /x"]["responses"]) == ["404", "500"]


def test_protected_endpoint_documents_401_and_403_as_json_by_default(write_project: WriteProject) -> None:
    root = write_project(
        {"endpoints/e.toml": endpoint_toml("/a/{id}", extra='access = "groups"\ngroups = ["admins"]')}
    )
    responses = operations(export(root))["GET /a/{id}"]["responses"]
    assert responses["401"] == {"description": "No valid credentials. (`Unauthorized`)", "content": ERROR}
    assert responses["403"] == {
        "description": "A signed-in user outside the groups. (`Forbidden`)",
        "content": ERROR,
    }
    assert responses["400"] == {
        "description": "Bad request: a path parameter that is not percent-encoded UTF-8.",
        "content": ERROR,
    }


def test_unauthorized_page_with_a_status_answers_both_refusals_with_it(write_project: WriteProject) -> None:
    root = write_project(
        {
            "endpoints/e.toml": endpoint_toml(
                "/admin",
                extra='access = "groups"\ngroups = ["admins"]\n'
                'unauthorized_reply = { type = "page", page = "login", status = 403 }',
            ),
            "pages/p.toml": '[[page]]\nname = "login"\nbody = "sign in"\n',
        }
    )
    responses = operations(export(root))["GET /admin"]["responses"]
    assert list(responses) == ["301", "403", "404"]
    assert responses["403"]["description"] == (
        "No valid credentials. Or: A signed-in user outside the groups."
    )


def test_version_unauthorized_redirect_and_not_found_page_are_documented(write_project: WriteProject) -> None:
    root = write_project(
        {
            "epctl.toml": """
                [project]
                name = "t"
                [settings]
                unauthorized_reply = { type = "redirect", to = "/login" }
                not_found_reply = { type = "page", page = "missing" }
            """,
            "endpoints/e.toml": endpoint_toml("/a", extra='access = "authenticated"'),
            "pages/p.toml": '[[page]]\nname = "missing"\ncontent_type = "application/json"\nbody = "{}"\n',
        }
    )
    responses = operations(export(root))["GET /a"]["responses"]
    assert responses["302"]["headers"]["Location"]["schema"] == {"type": "string"}
    assert responses["302"]["description"] == "No valid credentials. A redirect."
    assert responses["404"] == {
        "description": "No route matches the path.",
        "content": {"application/json": {"schema": {}}},
    }


# -- the sample project ------------------------------------------------------------------------------


def test_sample_develop_and_its_version_export_valid_documents() -> None:
    for version in ("develop", "v1.0.0"):
        document = build_openapi(load_version(SAMPLE, version), root="/farm")
        validate(document)
        assert document["info"] == {"title": "smart-farm", "version": version}
        ids = sorted(str(op["operationId"]) for op in operations(document).values())
        assert ids == [
            "admin",
            "api-create-device",
            "api-device-readings",
            "api-devices",
            "api-export",
            "api-me",
            "api-not-found",
            "device-attribute",
            "device-attribute:without-attribute",
            "device-list",
            "home",
            "login",
            "old-dashboard",
        ]
