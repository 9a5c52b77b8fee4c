"""The request path as issues 10 and 11 ask: the environment root on what is sent back, workflows that
fail, run late or never end, escaping by content type, and limits on what a request may cost."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from epctl.runtime import build_app
from epctl.schemas.loader import load_project
from tests.conftest import MakeClient, WriteProject

CONFIG = """
[project]
name = "fleet"

[settings]
request_timeout = "300ms"
max_body_size = "1KB"
globals = { company = "ACME", tags = ["a", "b"], nested = { list = [1] }, marker = "MARKER" }
unauthorized_reply = { type = "redirect", to = "/login?next={{ request.path | urlencode }}" }
not_found_reply = { type = "redirect", to = "/" }

[environments]
production = { version = "v1", root = "/fleet" }
"""

ENDPOINTS = """
[[endpoint]]
id = "map"
method = "GET"
route = "/map"
reply = { type = "redirect", to = "/dashboard" }

[[endpoint]]
id = "private"
method = "GET"
route = "/private"
access = "authenticated"
reply = { type = "page", page = "links" }

[[endpoint]]
id = "links"
method = "GET"
route = "/links"
reply = { type = "page", page = "links" }

[[endpoint]]
id = "go"
method = "GET"
route = "/go/{rest*}"
reply = { type = "redirect", to = "/{{ request.params.rest }}" }

[[endpoint]]
id = "json-page"
method = "GET"
route = "/json"
reply = { type = "page", page = "json" }

[[endpoint]]
id = "svg-page"
method = "GET"
route = "/svg"
reply = { type = "page", page = "svg" }

[[endpoint]]
id = "dump"
method = "GET"
route = "/dump"
reply = { type = "page", page = "dump" }

[[endpoint]]
id = "flow"
method = "GET"
route = "/flow/{name}"

[[endpoint]]
id = "two"
method = "GET"
route = "/two"

[[endpoint]]
id = "late"
method = "POST"
route = "/late"
reply = { type = "page", page = "json" }

[[endpoint]]
id = "post"
method = "POST"
route = "/post"
"""

PAGES = """
[[page]]
name = "links"
body = "<a href='{{ url(\\"/devices\\") }}'>{{ root }}</a>"

[[page]]
name = "json"
content_type = "application/json"
body = '{"q": "{{ request.query.q }}", "g": {{ globals|tojson }}}'

[[page]]
name = "svg"
content_type = "image/svg+xml"
body = "<svg>{{ request.query.q }}</svg>"

[[page]]
name = "dump"
content_type = "application/json"
body = '{"request": {{ request|tojson }}, "time": {{ time|tojson }}, "experience": {{ experience|tojson }}}'
"""

HANDLERS = """
import time
from pathlib import Path

from epctl.runtime.replies import redirect, reply


def note(request, text):
    with Path(request.globals["marker"]).open("a") as marker:
        marker.write(text + "\\n")


def flow(request):
    return FLOWS[request.params["name"]](request)


def to_devices(request):
    return redirect("/devices")


def to_evil(request):
    return redirect("//evil.com/x")


def with_cookie(request):
    return reply({"ok": True}, cookies={"session": "s1", "wide": {"value": "w", "path": "/admin"}})


def urls(request):
    return {"root": request.root, "url": request.url("/devices"), "path": request.path}


def bad_header_name(request):
    return reply({"ok": True}, headers={"X-Evil\\r\\nSet-Cookie": "a"})


def bad_header_value(request):
    return {"ok": True}, 200, {"X-Value": "caf\\u00e9 \\u2603"}


def bad_status(request):
    return {"ok": True}, "200 OK\\r\\nSet-Cookie: a=b"


def bad_cookie_name(request):
    return reply({"ok": True}, cookies={"a=b; Domain=evil.com": "1"})


def exits(request):
    raise SystemExit(3)


def interrupts(request):
    raise KeyboardInterrupt


def sleeps(request):
    time.sleep(3)
    return {"late": True}


def grow_globals(request):
    request.globals["nested"]["list"].append(2)
    return {"ok": True}


def read_globals(request):
    return {"list": list(request.globals["nested"]["list"])}


def fails(request):
    raise RuntimeError("first fails")


def replies(request):
    return {"from": "second"}


def late(request):
    note(request, "late " + str(request.body))


def body(request):
    return {"body": request.body}


FLOWS = {
    name: value
    for name, value in dict(globals()).items()
    if callable(value) and name not in ("flow", "note", "redirect", "reply", "Path", "time")
}
"""

WORKFLOWS = """
[[workflow]]
name = "flow"
handler = "h.py:flow"
endpoints = ["flow"]

[[workflow]]
name = "fails"
handler = "h.py:fails"
endpoints = ["two"]

[[workflow]]
name = "replies"
handler = "h.py:replies"
endpoints = ["two"]

[[workflow]]
name = "late"
handler = "h.py:late"
endpoints = ["late"]

[[workflow]]
name = "body"
handler = "h.py:body"
endpoints = ["post"]
"""


@pytest.fixture
def project(write_project: WriteProject, tmp_path: Path) -> Path:
    marker = (tmp_path / "ran.txt").as_posix()
    return write_project(
        {
            "epctl.toml": CONFIG.replace("MARKER", marker),
            "endpoints/e.toml": ENDPOINTS,
            "pages/p.toml": PAGES,
            "workflows/w.toml": WORKFLOWS,
            "workflows/h.py": HANDLERS,
        }
    )


@pytest.fixture
def fleet(project: Path, make_client: MakeClient, secret: str) -> Client:
    """The app mounted at the environment root `/fleet`."""
    return make_client(project, root="/fleet")


@pytest.fixture
def plain(project: Path, make_client: MakeClient, secret: str) -> Client:
    """The app with no root."""
    return make_client(project)


def ran(tmp_path: Path) -> list[str]:
    marker = tmp_path / "ran.txt"
    return marker.read_text().splitlines() if marker.exists() else []


# -- issue 10: the environment root on what the server sends back --------------------------------
def test_static_redirect_targets_carry_the_root(fleet: Client) -> None:
    assert fleet.get("/fleet/map").headers["Location"] == "/fleet/dashboard"


def test_unauthorized_redirect_carries_the_root_and_next_is_the_apps_own_path(fleet: Client) -> None:
    # `next` is the path as the app sees it, so a sign-in workflow's redirect(next) lands on it again.
    assert fleet.get("/fleet/private").headers["Location"] == "/fleet/login?next=/private"


def test_not_found_redirect_carries_the_root(fleet: Client) -> None:
    assert fleet.get("/fleet/nope").headers["Location"] == "/fleet/"


def test_workflow_redirects_carry_the_root(fleet: Client) -> None:
    assert fleet.get("/fleet/flow/to_devices").headers["Location"] == "/fleet/devices"


def test_workflow_cookies_default_to_the_root_path_and_are_http_only_and_lax(fleet: Client) -> None:
    cookies = fleet.get("/fleet/flow/with_cookie").headers.getlist("Set-Cookie")
    assert cookies == [
        "session=s1; HttpOnly; Path=/fleet; SameSite=Lax",
        "wide=w; HttpOnly; Path=/fleet/admin; SameSite=Lax",
    ]


def test_workflow_cookies_are_secure_over_https(fleet: Client) -> None:
    cookies = fleet.get("/fleet/flow/with_cookie", base_url="https://localhost").headers.getlist("Set-Cookie")
    assert cookies[0] == "session=s1; Secure; HttpOnly; Path=/fleet; SameSite=Lax"


def test_templates_learn_the_root_and_build_urls_under_it(fleet: Client, plain: Client) -> None:
    assert fleet.get("/fleet/links").text == "<a href='/fleet/devices'>/fleet</a>"
    assert plain.get("/links").text == "<a href='/devices'></a>"


def test_workflows_learn_the_root_and_build_urls_under_it(fleet: Client, plain: Client) -> None:
    assert fleet.get("/fleet/flow/urls").json == {
        "root": "/fleet",
        "url": "/fleet/devices",
        "path": "/flow/urls",
    }
    assert plain.get("/flow/urls").json == {"root": "", "url": "/devices", "path": "/flow/urls"}


def test_a_root_of_slash_is_no_prefix(project: Path, make_client: MakeClient, secret: str) -> None:
    config = (project / "epctl.toml").read_text().replace('root = "/fleet"', 'root = "/"')
    (project / "epctl.toml").write_text(config)
    client = make_client(project, root="/")
    assert client.get("/map").headers["Location"] == "/dashboard"


# -- issue 11: open redirects and paths that climb out of the root ---------------------------------
def test_a_site_relative_redirect_target_stays_on_the_site(plain: Client, fleet: Client) -> None:
    assert plain.get("/go//evil.com").headers["Location"] == "/evil.com"
    assert plain.get("/go/%5Cevil.com").headers["Location"] == "/evil.com"
    assert fleet.get("/fleet/go//evil.com").headers["Location"] == "/fleet/evil.com"
    assert plain.get("/flow/to_evil").headers["Location"] == "/evil.com/x"


def test_a_path_climbing_out_of_the_root_is_not_found(fleet: Client) -> None:
    # The not-found reply here is a redirect to the root: never the `/map` endpoint's reply.
    for path in ("/fleet/../map", "/fleet/%2E%2E/map", "/fleet/./../map"):
        response = fleet.get(path)
        assert (response.status_code, response.headers["Location"]) == (302, "/fleet/"), path
    assert fleet.get("/fleet/x/../map").headers["Location"] == "/fleet/dashboard"


# -- issue 10: workflows ----------------------------------------------------------------------------
def test_one_failing_workflow_never_hides_anothers_reply(
    plain: Client, caplog: pytest.LogCaptureFixture
) -> None:
    response = plain.get("/two")
    assert (response.status_code, response.json) == (200, {"from": "second"})
    assert 'workflow "fails" (workflows/h.py:fails) of endpoint "two" failed' in caplog.text
    assert "RuntimeError: first fails" in caplog.text


def test_a_static_reply_is_sent_before_its_workflows_run(
    plain: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    response = plain.post("/late", json={"n": 1})
    assert response.status_code == 200
    assert ran(tmp_path) == []  # the reply is out; the workflows wait for the server to close it
    response.close()
    assert ran(tmp_path) == ["late {'n': 1}"]  # run on close, with the same request's body
    assert "gave no reply" not in caplog.text  # the static reply was the reply


# pytest-timeout's default method owns SIGALRM, so the deadline's watchdog interrupts the work (as under
# gthread workers); with its thread method the main thread's SIGALRM is free, and the work is
# interrupted where it sleeps (as under sync workers).
@pytest.mark.parametrize(
    "timer",
    [
        pytest.param("watchdog", marks=pytest.mark.timeout(120, method="signal")),
        pytest.param("alarm", marks=pytest.mark.timeout(120, method="thread")),
    ],
)
def test_a_workflow_past_the_deadline_answers_504_and_is_logged(
    plain: Client, caplog: pytest.LogCaptureFixture, timer: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="epctl.runtime"):
        response = plain.get("/flow/sleeps")
    assert (response.status_code, response.json) == (504, {"error": "Gateway timeout"})
    logged = 'endpoint "flow": workflows still running after 300ms on GET /flow/sleeps; interrupted, answered'
    assert f"{logged} 504" in caplog.text


@pytest.mark.parametrize("name", ["exits", "interrupts"])
def test_system_exit_and_keyboard_interrupt_in_a_handler_give_the_json_500(plain: Client, name: str) -> None:
    response = plain.get(f"/flow/{name}")
    assert (response.status_code, response.json) == (500, {"error": "Internal server error"})


# -- issue 10: templates ----------------------------------------------------------------------------
def test_json_pages_escape_interpolations_as_json_string_content(plain: Client) -> None:
    response = plain.get("/json", query_string={"q": 'a"b<x>\\\n'})
    assert response.content_type == "application/json"
    assert json.loads(response.text) == {
        "q": 'a"b<x>\\\n',
        "g": {
            "company": "ACME",
            "nested": {"list": [1]},
            "tags": ["a", "b"],
            "marker": json.loads(response.text)["g"]["marker"],
        },
    }


def test_any_render_context_value_renders_with_tojson(plain: Client) -> None:
    response = plain.get("/dump", query_string={"q": "1"})
    assert response.status_code == 200
    document = json.loads(response.text)
    assert document["request"]["path"] == "/dump"
    assert document["request"]["query"] == {"q": "1"}
    assert document["experience"]["endpoint"] == {"id": "dump", "route": "/dump", "tags": {}}
    assert document["time"].endswith("+00:00")


def test_svg_pages_are_autoescaped_as_markup(plain: Client) -> None:
    response = plain.get("/svg", query_string={"q": "<script>alert(1)</script>"})
    assert response.text == "<svg>&lt;script&gt;alert(1)&lt;/script&gt;</svg>"


# -- issue 11: replies a workflow cannot send ---------------------------------------------------------
@pytest.mark.parametrize("name", ["bad_header_name", "bad_header_value", "bad_status", "bad_cookie_name"])
def test_an_invalid_header_status_or_cookie_name_is_a_logged_500_with_the_versions_headers(
    secret: str,
    project: Path,
    make_client: MakeClient,
    name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = (
        (project / "epctl.toml")
        .read_text()
        .replace("[settings]", '[settings]\nresponse_headers = { X-Site = "fleet" }')
    )
    (project / "epctl.toml").write_text(config)
    response = make_client(project).get(f"/flow/{name}")
    assert (response.status_code, response.json) == (500, {"error": "Internal server error"})
    assert response.headers["X-Site"] == "fleet"
    assert "Set-Cookie" not in response.headers
    assert "returned a reply that cannot be sent" in caplog.text


# -- issue 11: globals --------------------------------------------------------------------------------
def test_nested_globals_are_never_shared_between_requests(plain: Client) -> None:
    assert plain.get("/flow/grow_globals").status_code == 500
    assert plain.get("/flow/read_globals").json == {"list": [1]}


# -- issue 11: bodies ---------------------------------------------------------------------------------
def test_a_body_over_max_body_size_is_413_before_it_is_read(plain: Client) -> None:
    response = plain.post("/post", data=b"x" * 1025, content_type="text/plain")
    assert (response.status_code, response.json) == (413, {"error": "Request body too large"})
    assert plain.post("/post", data=b"x" * 1024, content_type="text/plain").json == {"body": "x" * 1024}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_chunked_body_is_refused_past_max_body_size(project: Path, secret: str, content_type: str) -> None:
    app = build_app(load_project(project))
    for size, status in ((1024, 200), (1025, 413), (50_000, 413)):
        environ = EnvironBuilder(
            path="/post",
            method="POST",
            input_stream=io.BytesIO(b"x" * size),
            headers={"Transfer-Encoding": "chunked", "Content-Type": content_type},
        ).get_environ()
        # What a server sets for a chunked body: no Content-Length, the stream ended by the server.
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
        _, answered, _ = run_wsgi_app(app, environ, buffered=True)
        assert int(answered.split()[0]) == status, (content_type, size)


def test_json_nested_deeper_than_64_levels_is_400(plain: Client) -> None:
    assert plain.post("/post", data="[" * 64 + "]" * 64, content_type="application/json").status_code == 200
    for depth in (65, 500):
        body = "[" * depth + "]" * depth
        response = plain.post("/post", data=body, content_type="application/json")
        assert (response.status_code, response.json) == (400, {"error": "Bad request"}), depth


def test_a_body_in_a_charset_that_is_no_text_encoding_is_400(plain: Client) -> None:
    for charset in ("idna", "rot13", "punycode"):
        response = plain.post("/post", data=b"x" * 100, content_type=f"text/plain; charset={charset}")
        assert (response.status_code, response.json) == (400, {"error": "Bad request"}), charset


def test_a_multipart_body_of_more_than_1000_parts_is_413(
    project: Path, make_client: MakeClient, secret: str
) -> None:
    config = (project / "epctl.toml").read_text().replace('max_body_size = "1KB"', 'max_body_size = "1MB"')
    (project / "epctl.toml").write_text(config)
    client = make_client(project)
    parts = "".join(f'--b\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv\r\n' for i in range(1001))
    response = client.post(
        "/post", data=(parts + "--b--\r\n").encode(), content_type="multipart/form-data; boundary=b"
    )
    assert response.status_code == 413
