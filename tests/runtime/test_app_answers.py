"""What werkzeug's Response did on the way out, kept now that replies go straight to start_response:
status lines, Content-Length, bodiless statuses, ASCII locations, a workflow's own Response."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from epctl.schemas.problems import ProjectError
from tests.conftest import MakeClient, WriteProject

HANDLERS = r"""
from werkzeug.wrappers import Response

from epctl.runtime.replies import redirect


def custom_status(request):
    return {"a": 1}, "299 Fine Thanks"


def status_digits(request):
    return {"a": 1}, "201"


def unicode_redirect(request):
    return redirect("/caf\u00e9?q=\u00e9")


def response_made_bodiless(request):
    return Response("gone", status=200), 204


def response_not_modified(request):
    return Response("x", mimetype="text/plain"), 304, {"ETag": '"abc"'}


def response_headers_kept(request):
    return Response("r", headers={"Access-Control-Allow-Origin": "https://own.example"}), 201, {"X-T": "1"}


def repeated_headers(request):
    return "x", 200, [("X-M", "1"), ("X-M", "2"), ("Vary", "Cookie")]
"""

FUNCTIONS = [
    "custom_status",
    "status_digits",
    "unicode_redirect",
    "response_made_bodiless",
    "response_not_modified",
    "response_headers_kept",
    "repeated_headers",
]

CONFIG = """
[project]
name = "t"

[settings]
allowed_origins = ["https://a.example"]
response_headers = { "X-Frame-Options" = "DENY", "Content-Language" = "en" }
"""


@pytest.fixture
def client(write_project: WriteProject, make_client: MakeClient) -> Client:
    endpoints = "".join(f'[[endpoint]]\nid = "{f}"\nmethod = "GET"\nroute = "/{f}"\n\n' for f in FUNCTIONS)
    workflows = "".join(
        f'[[workflow]]\nname = "{f}"\nhandler = "h.py:{f}"\nendpoints = ["{f}"]\n\n' for f in FUNCTIONS
    )
    files = {"epctl.toml": CONFIG, "endpoints/e.toml": endpoints, "workflows/w.toml": workflows}
    return make_client(write_project({**files, "workflows/h.py": HANDLERS}))


def test_a_status_string_is_sent_as_written(client: Client) -> None:
    assert client.get("/custom_status").status == "299 Fine Thanks"
    assert client.get("/status_digits").status == "201 CREATED"


def test_a_redirect_location_is_sent_as_ascii(client: Client) -> None:
    response = client.get("/unicode_redirect")
    assert (response.status_code, response.headers["Location"]) == (302, "/caf%C3%A9?q=%C3%A9")
    assert response.headers["Content-Length"] == "0"


def test_a_workflow_response_given_204_sends_no_body_and_no_length(client: Client) -> None:
    response = client.get("/response_made_bodiless")
    assert (response.status_code, response.data) == (204, b"")
    assert "Content-Length" not in response.headers


def test_304_drops_entity_headers_even_the_version_ones(client: Client) -> None:
    response = client.get("/response_not_modified")
    assert (response.status_code, response.data, response.headers["ETag"]) == (304, b"", '"abc"')
    assert "Content-Type" not in response.headers
    assert "Content-Language" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_workflow_response_keeps_its_headers_and_gets_the_version_ones(client: Client) -> None:
    response = client.get("/response_headers_kept", headers={"Origin": "https://a.example"})
    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == "https://own.example"
    assert (response.headers["X-T"], response.headers["X-Frame-Options"]) == ("1", "DENY")


def test_head_of_a_workflow_response_has_its_length_and_no_body(client: Client) -> None:
    get, head = client.get("/response_headers_kept"), client.head("/response_headers_kept")
    assert (head.data, head.headers["Content-Length"]) == (b"", get.headers["Content-Length"])


def test_repeated_headers_are_all_sent_and_origin_joins_vary(client: Client) -> None:
    response = client.get("/repeated_headers", headers={"Origin": "https://a.example"})
    assert response.headers.getlist("X-M") == ["1", "2"]
    assert response.headers["Vary"] == "Cookie, Origin"


def test_a_response_header_with_a_line_break_is_refused_when_the_app_is_built(
    write_project: WriteProject, make_client: MakeClient
) -> None:
    config = '[project]\nname = "t"\n[settings]\nresponse_headers = { "X-A" = "one\\ntwo" }\n'
    with pytest.raises(ProjectError) as caught:
        make_client(write_project({"epctl.toml": config}))
    [problem] = caught.value.problems
    assert (problem.code, problem.place.key) == ("invalid-value", "settings.response_headers.X-A")
    assert problem.message == 'response header "X-A" holds a line break; a header value is one line'
