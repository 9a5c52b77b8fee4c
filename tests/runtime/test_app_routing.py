"""README "Serving a request", steps 1, 2 and 5: route outcomes, HEAD, preflight, CORS and the
version's response headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from epctl.runtime.app import read_raw_path
from tests.conftest import MakeClient, WriteProject

CONFIG = """
[project]
name = "t"

[settings]
allowed_origins = ["https://a.example"]
response_headers = { "X-Frame-Options" = "DENY" }
"""

ENDPOINTS = """
[[endpoint]]
id = "list"
method = "GET"
route = "/items"

[[endpoint]]
id = "create"
method = "POST"
route = "/items"

[[endpoint]]
id = "show"
method = "GET"
route = "/items/{id}"

[[endpoint]]
id = "off"
method = "GET"
route = "/off"
enabled = false

[[endpoint]]
id = "own-cors"
method = "GET"
route = "/own-cors"
"""

WORKFLOWS = """
[[workflow]]
name = "echo"
handler = "echo.py:echo"
endpoints = ["list", "create", "show", "off"]

[[workflow]]
name = "own-cors"
handler = "echo.py:own_cors"
endpoints = ["own-cors"]
"""

HANDLERS = """
def echo(request):
    return {"endpoint": request.endpoint.id, "params": request.params}


def own_cors(request):
    headers = {"Access-Control-Allow-Origin": "https://mine.example", "X-Frame-Options": "SAMEORIGIN"}
    return {"ok": True}, 200, headers
"""


def make_project(write_project: WriteProject, config: str = CONFIG, **extra: str) -> Path:
    return write_project(
        {
            "epctl.toml": config,
            "endpoints/api.toml": ENDPOINTS,
            "workflows/echo.toml": WORKFLOWS,
            "workflows/echo.py": HANDLERS,
            **extra,
        }
    )


@pytest.fixture
def client(write_project: WriteProject, make_client: MakeClient) -> Client:
    return make_client(make_project(write_project))


def test_matched_route_runs_its_workflow(client: Client) -> None:
    response = client.get("/items/42")
    assert response.status_code == 200
    assert response.json == {"endpoint": "show", "params": {"id": "42"}}


def test_unmatched_path_answers_default_json_404(client: Client) -> None:
    response = client.get("/nothing/here")
    assert response.status_code == 404
    assert response.json == {"error": "Not found"}
    assert response.content_type == "application/json"


def test_not_found_reply_page_is_rendered_with_its_status(sample_client: Client) -> None:
    response = sample_client.get("/no/such/page")
    assert response.status_code == 404
    assert response.content_type == "text/html; charset=utf-8"
    assert "Nothing lives at <code>/no/such/page</code>" in response.text


def test_not_found_page_without_status_answers_404(
    write_project: WriteProject, make_client: MakeClient
) -> None:
    """A 200 not-found page would be a soft 404, so the not-found position defaults to 404."""
    config = CONFIG + 'not_found_reply = { type = "page", page = "missing" }\n'
    pages = '[[page]]\nname = "missing"\nbody = "gone: {{ request.path }}"\n'
    client = make_client(make_project(write_project, config, **{"pages/p.toml": pages}))
    response = client.get("/x")
    assert (response.status_code, response.text) == (404, "gone: /x")


def test_not_found_redirect_defaults_to_302(write_project: WriteProject, make_client: MakeClient) -> None:
    config = (
        CONFIG + 'not_found_reply = { type = "redirect", to = "/?from={{ request.path | urlencode }}" }\n'
    )
    client = make_client(make_project(write_project, config))
    response = client.get("/old/page")
    assert response.status_code == 302
    assert response.headers["Location"] == "/?from=/old/page"


def test_disabled_endpoint_answers_503(client: Client) -> None:
    response = client.get("/off")
    assert response.status_code == 503
    assert response.json == {"error": "Endpoint disabled"}


def test_other_method_answers_405_with_allow(client: Client) -> None:
    response = client.delete("/items")
    assert response.status_code == 405
    assert response.json == {"error": "Method not allowed"}
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_head_is_served_by_get_without_body(client: Client) -> None:
    get = client.get("/items/7")
    head = client.head("/items/7")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


def test_bad_percent_encoding_answers_400(client: Client) -> None:
    response = client.get("/items/%FF")
    assert response.status_code == 400
    assert response.json == {"error": "Bad request"}


def test_encoded_slash_reaches_the_param_decoded(client: Client) -> None:
    """The router sees the raw path: `%2F` stays inside one segment instead of splitting it."""
    response = client.get("/items/a%2Fb")
    assert response.json == {"endpoint": "show", "params": {"id": "a/b"}}


def test_escaped_unreserved_characters_are_normalized(client: Client) -> None:
    assert client.get("/it%65ms").json == {"endpoint": "list", "params": {}}


def test_preflight_lists_the_routed_methods(client: Client) -> None:
    response = client.options(
        "/items",
        headers={
            "Origin": "https://a.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, session",
        },
    )
    assert response.status_code == 204
    assert response.data == b""
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, session"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"


def test_options_without_cors_answers_405(write_project: WriteProject, make_client: MakeClient) -> None:
    client = make_client(make_project(write_project, CONFIG + "cors = false\n"))
    response = client.options("/items")
    assert response.status_code == 405
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_echoes_a_listed_origin_with_vary(client: Client) -> None:
    response = client.get("/items", headers={"Origin": "https://a.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert response.headers["Vary"] == "Origin"


def test_cors_sends_nothing_for_an_unlisted_origin(client: Client) -> None:
    response = client.get("/items", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_wildcard_answers_star(write_project: WriteProject, make_client: MakeClient) -> None:
    client = make_client(make_project(write_project, '[project]\nname = "t"\n'))
    response = client.get("/items", headers={"Origin": "https://anyone.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_off_adds_no_origin_header(write_project: WriteProject, make_client: MakeClient) -> None:
    client = make_client(make_project(write_project, '[project]\nname = "t"\n[settings]\ncors = false\n'))
    assert "Access-Control-Allow-Origin" not in client.get("/items").headers


def test_cors_keeps_an_origin_the_reply_set(client: Client) -> None:
    response = client.get("/own-cors", headers={"Origin": "https://a.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://mine.example"


def test_response_headers_are_added_to_errors_and_preflights(client: Client) -> None:
    for response in (
        client.get("/nothing"),
        client.get("/off"),
        client.delete("/items"),
        client.options("/items"),
    ):
        assert response.headers["X-Frame-Options"] == "DENY", response.status


def test_response_headers_never_override_the_reply(client: Client) -> None:
    assert client.get("/own-cors").headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]


def test_root_prefix_is_stripped_before_routing(write_project: WriteProject, make_client: MakeClient) -> None:
    client = make_client(make_project(write_project), root="/api")
    assert client.get("/api/items/3").json == {"endpoint": "show", "params": {"id": "3"}}
    assert client.get("/items/3").status_code == 404
    assert client.get("/apiitems").status_code == 404


def test_raw_path_comes_from_raw_uri_then_path_info() -> None:
    assert read_raw_path({"RAW_URI": "/a%2Fb?x=1", "PATH_INFO": "/a/b"}) == "/a%2Fb"
    assert read_raw_path({"REQUEST_URI": "/c%2Fd?x=1", "PATH_INFO": "/c/d"}) == "/c%2Fd"
    assert read_raw_path({"RAW_URI": "http://host.example/e?x", "PATH_INFO": "/e"}) == "/e"
    # Without either, PATH_INFO (bytes as latin-1 in WSGI) is quoted again: UTF-8 bytes become %XX.
    assert read_raw_path({"PATH_INFO": "/caf\xc3\xa9 x"}) == "/caf%C3%A9%20x"
    assert read_raw_path({"RAW_URI": "/mount/x", "SCRIPT_NAME": "/mount", "PATH_INFO": "/x"}) == "/x"
