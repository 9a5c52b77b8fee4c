"""Workflows (README "Serving a request", step 4): which reply wins, errors, return conventions,
the request object."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from werkzeug.test import Client

from tests.conftest import MakeClient, WriteProject

HANDLERS = """
from datetime import timezone
from pathlib import Path

from werkzeug.wrappers import Response

from epctl.runtime.replies import page, redirect, reply


def note(request, text):
    with Path(request.globals["marker"]).open("a") as marker:
        marker.write(text + "\\n")


def first(request):
    note(request, "first")
    return {"from": "first"}


def second(request):
    note(request, "second")
    return {"from": "second"}


def nothing(request):
    note(request, "nothing")


def boom(request):
    note(request, "boom")
    raise RuntimeError("secret detail 12345")


def as_dict(request):
    return {"a": 1}


def as_list(request):
    return [1, "two"]


def as_str(request):
    return "<p>hi</p>"


def as_tuple2(request):
    return {"created": True}, 201


def as_tuple3(request):
    return "teapot", 418, {"X-Kind": "tea"}


def as_response(request):
    return Response("raw", status=202, mimetype="text/plain")


def as_page(request):
    return page("show", {"name": "<script>alert(1)</script>"}, status=203, headers={"X-Page": "yes"})


def as_missing_page(request):
    return page("no-such-page")


def as_redirect(request):
    return redirect("/next?x=1")


def as_bad_redirect(request):
    return redirect("/next\\r\\nSet-Cookie: evil=1")


def as_reply(request):
    return reply(
        {"ok": True},
        202,
        headers={"X-Reply": "1"},
        cookies={"simple": "v1", "rich": {"value": "v2", "max_age": 60, "httponly": True, "samesite": "Lax"}},
    )


def as_csv(request):
    return reply("a,b\\n", headers={"Content-Type": "text/csv; charset=utf-8"})


def as_number(request):
    return 42


def body(request):
    note(request, "body")
    return {"body": request.body}


def inspect(request):
    return {
        "method": request.method,
        "path": request.path,
        "params": request.params,
        "query": request.query,
        "header": request.headers["X-Custom"],
        "header_lower": request.headers.get("x-custom"),
        "cookies": request.cookies,
        "user": request.user,
        "endpoint": [request.endpoint.id, request.endpoint.route, dict(request.endpoint.tags)],
        "version": request.version,
        "globals": request.globals["company"],
        "utc": request.time.tzinfo == timezone.utc,
    }


def mutate_globals(request):
    request.globals["company"] = "changed"
"""

FUNCTIONS = [
    "as_dict", "as_list", "as_str", "as_tuple2", "as_tuple3", "as_response", "as_page", "as_missing_page",
    "as_redirect", "as_bad_redirect", "as_reply", "as_csv", "as_number", "nothing", "boom", "mutate_globals",
]  # fmt: skip


def endpoint(id: str, route: str, method: str = "GET", extra: str = "") -> str:
    return f'[[endpoint]]\nid = "{id}"\nmethod = "{method}"\nroute = "{route}"\n{extra}\n'


def workflow(name: str, function: str, endpoints: list[str]) -> str:
    ids = ", ".join(f'"{e}"' for e in endpoints)
    return f'[[workflow]]\nname = "{name}"\nhandler = "h.py:{function}"\nendpoints = [{ids}]\n\n'


ENDPOINTS = "".join(endpoint(name, f"/{name}") for name in FUNCTIONS) + "".join(
    [
        endpoint("static", "/static", extra='reply = { type = "page", page = "show" }'),
        endpoint("two", "/two"),
        endpoint("late-boom", "/late-boom"),
        endpoint("early-boom", "/early-boom"),
        endpoint("body", "/body", "POST"),
        endpoint("inspect", "/inspect/{id}", extra='tags = { team = "iot" }'),
    ]
)
WORKFLOWS = "".join(workflow(name, name, [name]) for name in FUNCTIONS) + "".join(
    [
        workflow("static-side", "first", ["static"]),
        workflow("one", "first", ["two", "late-boom"]),
        workflow("early", "boom", ["early-boom"]),
        workflow("two", "second", ["two", "early-boom"]),
        workflow("late", "boom", ["late-boom"]),
        workflow("body", "body", ["body"]),
        workflow("inspect", "inspect", ["inspect"]),
    ]
)
PAGES = """
[[page]]
name = "show"
body = "name={{ data.name }}"
"""


@pytest.fixture
def project(write_project: WriteProject, tmp_path: Path) -> Path:
    marker = (tmp_path / "ran.txt").as_posix()
    config = f'[project]\nname = "t"\n[settings]\nglobals = {{ marker = "{marker}", company = "ACME" }}\n'
    return write_project(
        {
            "epctl.toml": config,
            "endpoints/e.toml": ENDPOINTS,
            "workflows/w.toml": WORKFLOWS,
            "workflows/h.py": HANDLERS,
            "pages/p.toml": PAGES,
        }
    )


@pytest.fixture
def client(project: Path, make_client: MakeClient) -> Client:
    return make_client(project)


def ran(tmp_path: Path) -> list[str]:
    marker = tmp_path / "ran.txt"
    return marker.read_text().split() if marker.exists() else []


def test_static_reply_wins_but_workflows_still_run(client: Client, tmp_path: Path) -> None:
    # buffered: the client reads and closes the body as a server does; the workflows run on close().
    response = client.get("/static", buffered=True)
    assert (response.status_code, response.text) == (200, "name=")
    assert ran(tmp_path) == ["first"]


def test_first_workflow_reply_wins_and_every_workflow_runs(client: Client, tmp_path: Path) -> None:
    assert client.get("/two").json == {"from": "first"}
    assert ran(tmp_path) == ["first", "second"]


def test_no_reply_answers_500(client: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    response = client.get("/nothing")
    assert (response.status_code, response.json) == (500, {"error": "Internal server error"})
    assert ran(tmp_path) == ["nothing"]
    assert 'endpoint "nothing" gave no reply' in caplog.text


def test_workflow_exception_answers_500_and_logs_the_traceback(
    client: Client, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="epctl.runtime"):
        response = client.get("/boom")
    assert (response.status_code, response.json) == (500, {"error": "Internal server error"})
    assert b"secret detail" not in response.data
    assert b"Traceback" not in response.data
    record = next(r for r in caplog.records if r.exc_info)
    assert record.name == "epctl.runtime"
    assert "RuntimeError: secret detail 12345" in caplog.text
    # The traceback names the user's own file, so the line to fix is one click away.
    assert str(project / "workflows" / "h.py") in caplog.text


def test_exception_after_a_reply_keeps_that_reply(client: Client, tmp_path: Path) -> None:
    assert client.get("/late-boom").json == {"from": "first"}
    assert ran(tmp_path) == ["first", "boom"]


def test_a_failing_workflow_never_hides_a_later_workflows_reply(
    client: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get("/early-boom")
    assert (response.status_code, response.json) == (200, {"from": "second"})
    assert ran(tmp_path) == ["boom", "second"]
    assert 'workflow "early" (workflows/h.py:boom) of endpoint "early-boom" failed' in caplog.text


def test_dict_is_json(client: Client) -> None:
    response = client.get("/as_dict")
    assert (response.status_code, response.content_type, response.json) == (200, "application/json", {"a": 1})


def test_list_is_json(client: Client) -> None:
    assert client.get("/as_list").json == [1, "two"]


def test_str_is_html(client: Client) -> None:
    response = client.get("/as_str")
    assert (response.content_type, response.text) == ("text/html; charset=utf-8", "<p>hi</p>")


def test_tuple_of_body_and_status(client: Client) -> None:
    response = client.get("/as_tuple2")
    assert (response.status_code, response.json) == (201, {"created": True})


def test_tuple_of_body_status_and_headers(client: Client) -> None:
    response = client.get("/as_tuple3")
    assert (response.status_code, response.text, response.headers["X-Kind"]) == (418, "teapot", "tea")


def test_werkzeug_response_is_sent_as_is(client: Client) -> None:
    response = client.get("/as_response")
    assert (response.status_code, response.content_type, response.text) == (
        202,
        "text/plain; charset=utf-8",
        "raw",
    )


def test_page_helper_renders_with_data_status_and_headers(client: Client) -> None:
    response = client.get("/as_page")
    assert response.status_code == 203
    assert response.headers["X-Page"] == "yes"
    assert response.text == "name=&lt;script&gt;alert(1)&lt;/script&gt;"


def test_page_helper_with_an_unknown_page_answers_500(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/as_missing_page").status_code == 500
    assert 'no page named "no-such-page"' in caplog.text


def test_redirect_helper_defaults_to_302(client: Client) -> None:
    response = client.get("/as_redirect")
    assert (response.status_code, response.headers["Location"]) == (302, "/next?x=1")


def test_redirect_helper_refuses_a_line_break(client: Client) -> None:
    response = client.get("/as_bad_redirect")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers


def test_reply_helper_sets_status_headers_and_cookies(client: Client) -> None:
    response = client.get("/as_reply")
    assert (response.status_code, response.json, response.headers["X-Reply"]) == (202, {"ok": True}, "1")
    cookies = response.headers.getlist("Set-Cookie")
    # Workflow cookies default to HttpOnly and SameSite=Lax (Secure over https).
    assert "simple=v1; HttpOnly; Path=/; SameSite=Lax" in cookies
    assert "rich=v2; Expires=" in cookies[1]
    assert "Max-Age=60; HttpOnly; Path=/; SameSite=Lax" in cookies[1]


def test_reply_helper_keeps_a_content_type_it_sets(client: Client) -> None:
    response = client.get("/as_csv")
    assert (response.content_type, response.text) == ("text/csv; charset=utf-8", "a,b\n")


def test_unknown_return_type_answers_500(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    assert client.get("/as_number").status_code == 500
    assert "a workflow returned int" in caplog.text


def test_json_body_is_parsed(client: Client) -> None:
    assert client.post("/body", json={"name": "tank"}).json == {"body": {"name": "tank"}}


def test_malformed_json_answers_400_before_any_workflow(client: Client, tmp_path: Path) -> None:
    response = client.post("/body", data="{not json", content_type="application/json")
    assert (response.status_code, response.json) == (400, {"error": "Bad request"})
    assert ran(tmp_path) == []


def test_form_body_is_a_dict(client: Client) -> None:
    assert client.post("/body", data={"a": "1", "b": "2"}).json == {"body": {"a": "1", "b": "2"}}


def test_other_body_is_text(client: Client) -> None:
    assert client.post("/body", data="hello", content_type="text/plain").json == {"body": "hello"}


def test_empty_body_is_none(client: Client) -> None:
    assert client.post("/body").json == {"body": None}


def test_request_object_attributes(client: Client) -> None:
    client.set_cookie("flavour", "oat")
    response = client.get("/inspect/a%20b?x=1&x=2&y=3", headers={"X-Custom": "c"})
    assert response.json == {
        "method": "GET",
        "path": "/inspect/a b",
        "params": {"id": "a b"},
        "query": {"x": "2", "y": "3"},
        "header": "c",
        "header_lower": "c",
        "cookies": {"flavour": "oat"},
        "user": None,
        "endpoint": ["inspect", "/inspect/{id}", {"team": "iot"}],
        "version": "develop",
        "globals": "ACME",
        "utc": True,
    }


def test_workflows_cannot_change_globals(client: Client) -> None:
    """Globals are shared by every request: a write would leak into all of them, so it fails."""
    assert client.get("/mutate_globals").status_code == 500
    assert client.get("/inspect/1", headers={"X-Custom": "c"}).json["globals"] == "ACME"
