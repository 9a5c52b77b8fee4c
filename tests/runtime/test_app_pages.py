"""Pages (README "Serving a request"): sandboxed Jinja, autoescaping, layouts with blocks,
components, the render context."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from werkzeug.test import Client

from tests.conftest import MakeClient, WriteProject

CONFIG = """
[project]
name = "shop"

[settings]
globals = { company = "ACME" }
"""

ENDPOINTS = """
[[endpoint]]
id = "wrapped"
method = "GET"
route = "/wrapped"
reply = { type = "page", page = "wrapped" }

[[endpoint]]
id = "blocks"
method = "GET"
route = "/blocks"
reply = { type = "page", page = "blocks" }

[[endpoint]]
id = "context"
method = "GET"
route = "/context/{id}"
tags = { team = "web" }
reply = { type = "page", page = "context" }

[[endpoint]]
id = "data"
method = "GET"
route = "/data"

[[endpoint]]
id = "json-page"
method = "GET"
route = "/json-page"

[[endpoint]]
id = "class"
method = "GET"
route = "/class"
reply = { type = "page", page = "class" }

[[endpoint]]
id = "globals"
method = "GET"
route = "/globals"
reply = { type = "page", page = "globals" }
"""

WORKFLOWS = """
[[workflow]]
name = "data"
handler = "h.py:data"
endpoints = ["data"]

[[workflow]]
name = "json-page"
handler = "h.py:json_page"
endpoints = ["json-page"]
"""

HANDLERS = """
from epctl.runtime.replies import page


def data(request):
    return page("wrapped", {"text": "<script>alert(1)</script>"})


def json_page(request):
    return page("json", {"text": "<b>"})
"""

PAGES = """
[[layout]]
name = "main"
template = "main.html"

[[component]]
name = "footer"
body = "<footer>{{ globals.company }}</footer>"

[[page]]
name = "wrapped"
layout = "main"
body = "<p>{{ data.text }}</p>"

[[page]]
name = "blocks"
layout = "main"
body = "{% block title %}Mine{% endblock %}{% block content %}<p>body</p>{% endblock %}"

[[page]]
name = "json"
content_type = "application/json"
body = '{"text": "{{ data.text }}"}'

[[page]]
name = "class"
body = "{{ ''.__class__ }}"

[[page]]
name = "globals"
body = "{{ cycler.__init__.__globals__ }}"

[[page]]
name = "context"
content_type = "text/plain"
body = '''
time.tz={{ time.tzname() }}
application.name={{ application.name }}
experience.user={{ experience.user }}
{% set endpoint = experience.endpoint -%}
experience.endpoint={{ endpoint.id }} {{ endpoint.route }} {{ endpoint.tags.team }}
experience.page={{ experience.page.name }}
experience.layout={{ experience.layout }}
experience.version={{ experience.version }}
globals.company={{ globals.company }}
request.path={{ request.path }}
request.method={{ request.method }}
request.headers={{ request.headers["X-Test"] }}
request.cookies={{ request.cookies.c }}
request.params={{ request.params.id }}
request.query={{ request.query.q }}
data={{ data }}
'''
"""

LAYOUT = (
    "<title>{% block title %}default{% endblock %}</title>"
    "<main>{% block content %}{% endblock %}</main>{% include 'footer' %}"
)


@pytest.fixture
def client(write_project: WriteProject, make_client: MakeClient) -> Client:
    project = write_project(
        {
            "epctl.toml": CONFIG,
            "endpoints/e.toml": ENDPOINTS,
            "workflows/w.toml": WORKFLOWS,
            "workflows/h.py": HANDLERS,
            "pages/p.toml": PAGES,
            "pages/main.html": LAYOUT,
        }
    )
    return make_client(project)


def test_page_without_blocks_fills_the_layout_content(client: Client) -> None:
    response = client.get("/wrapped")
    assert response.text == "<title>default</title><main><p></p></main><footer>ACME</footer>"


def test_page_blocks_fill_the_layout_blocks(client: Client) -> None:
    assert client.get("/blocks").text == "<title>Mine</title><main><p>body</p></main><footer>ACME</footer>"


def test_html_pages_escape_data(client: Client) -> None:
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in client.get("/data").text


def test_non_html_pages_are_not_escaped_and_keep_their_content_type(client: Client) -> None:
    response = client.get("/json-page")
    assert response.content_type == "application/json"
    assert response.json == {"text": "<b>"}


@pytest.mark.parametrize("path", ["/class", "/globals"])
def test_template_reaching_for_internals_answers_500(
    client: Client, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="epctl.runtime"):
        response = client.get(path)
    assert (response.status_code, response.json) == (500, {"error": "Internal server error"})
    assert "SecurityError" in caplog.text


def test_render_context_keys(client: Client) -> None:
    client.set_cookie("c", "cookie-value")
    response = client.get("/context/7?q=search", headers={"X-Test": "header-value"})
    assert response.content_type == "text/plain"
    assert response.text.strip().splitlines() == [
        "time.tz=UTC",
        "application.name=shop",
        "experience.user=None",
        "experience.endpoint=context /context/{id} web",
        "experience.page=context",
        "experience.layout=None",
        "experience.version=develop",
        "globals.company=ACME",
        "request.path=/context/7",
        "request.method=GET",
        "request.headers=header-value",
        "request.cookies=cookie-value",
        "request.params=7",
        "request.query=search",
        "data={}",
    ]


def test_sample_device_page_uses_layout_component_and_title_block(
    sample_client: Client, sample_token: Callable[..., str]
) -> None:
    response = sample_client.get("/devices/tank-1", headers={"Session": sample_token()})
    assert response.status_code == 200
    assert "<title>Water tank 1</title>" in response.text
    assert '<article class="device-card">' in response.text
    assert "<footer>" in response.text
    assert "help@farm.example.com" in response.text


def test_sample_device_attribute_and_unknown_device(
    sample_client: Client, sample_token: Callable[..., str]
) -> None:
    headers = {"Session": sample_token()}
    assert "unit: <strong>%</strong>" in sample_client.get("/devices/tank-1/unit", headers=headers).text
    missing = sample_client.get("/devices/nope", headers=headers)
    assert missing.status_code == 404
    assert "Nothing lives at" in missing.text
