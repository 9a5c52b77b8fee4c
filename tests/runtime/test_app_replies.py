"""Reply tables (README "Serving a request", reply defaults): default statuses of page and redirect
replies, and redirect targets."""

from __future__ import annotations

import logging

import pytest
from werkzeug.test import Client

from tests.conftest import MakeClient, WriteProject

ENDPOINTS = """
[[endpoint]]
id = "page"
method = "GET"
route = "/page"
reply = { type = "page", page = "hello" }

[[endpoint]]
id = "created"
method = "GET"
route = "/created"
reply = { type = "page", page = "hello", status = 201 }

[[endpoint]]
id = "moved"
method = "GET"
route = "/moved/{id}"
reply = { type = "redirect", to = "/new/{{ request.params.id }}?q={{ request.query.q | urlencode }}" }

[[endpoint]]
id = "temporary"
method = "GET"
route = "/temporary"
reply = { type = "redirect", to = "/elsewhere", status = 307 }

[[endpoint]]
id = "injected"
method = "GET"
route = "/injected/{target}"
reply = { type = "redirect", to = "/go/{{ request.params.target }}" }
"""

PAGES = """
[[page]]
name = "hello"
body = "hello from {{ experience.endpoint.id }}"
"""


@pytest.fixture
def client(write_project: WriteProject, make_client: MakeClient) -> Client:
    return make_client(write_project({"endpoints/e.toml": ENDPOINTS, "pages/p.toml": PAGES}))


def test_page_reply_defaults_to_200(client: Client) -> None:
    response = client.get("/page")
    assert (response.status_code, response.text) == (200, "hello from page")
    assert response.content_type == "text/html; charset=utf-8"


def test_page_reply_status_is_used(client: Client) -> None:
    assert client.get("/created").status_code == 201


def test_redirect_reply_defaults_to_301_with_to_rendered(client: Client) -> None:
    response = client.get("/moved/42?q=a b")
    assert response.status_code == 301
    assert response.headers["Location"] == "/new/42?q=a%20b"


def test_redirect_reply_status_is_used(client: Client) -> None:
    response = client.get("/temporary")
    assert (response.status_code, response.headers["Location"]) == (307, "/elsewhere")


def test_redirect_target_with_a_line_break_is_never_sent(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="epctl.runtime"):
        response = client.get("/injected/x%0D%0ASet-Cookie:%20evil=1")
    assert response.status_code == 500
    assert response.json == {"error": "Internal server error"}
    assert "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert "line break" in caplog.text
