"""`serve`'s observability options, and what the app gives workflows and templates of it, without
starting a server: usage errors, a busy admin port, `request.id`, `--all` labelling each environment."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner
from werkzeug.test import Client

from epctl.runtime.app import create_app
from epctl.runtime.hosts import build_host_app
from epctl.runtime.observed_apps import Observation, observe_app
from tests.cli.serving import OPS_FILES, add_files
from tests.conftest import WriteProject, run, usage_error

REQUEST_ID_PAGE = {
    "endpoints/a.toml": """
        [[endpoint]]
        id = "page"
        method = "GET"
        route = "/page"
        reply = { type = "page", page = "id" }

        [[endpoint]]
        id = "api"
        method = "GET"
        route = "/api"
        """,
    "workflows/a.toml": """
        [[workflow]]
        name = "api"
        handler = "a.py:run"
        endpoints = ["api"]
        """,
    "workflows/a.py": """
        def run(request):
            return {"id": request.id, "again": request.id}
        """,
    "pages/a.toml": """
        [[page]]
        name = "id"
        template = "id.html"
        """,
    "pages/id.html": "id={{ request.id }}",
}


def test_a_bad_log_format_is_a_usage_error(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "serve", "--log-format", "xml")
    assert result.exit_code == 2
    assert (
        usage_error(result)
        == 'Invalid value for --log-format: log format must be "text" or "json", not "xml"'
    )


@pytest.mark.timeout(30)
def test_a_busy_admin_port_is_said_before_serving(runner: CliRunner, sample: Path, secret: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run(runner, sample, "serve", "--version", "v1.0.0", "--port", "0", "--admin-port", str(port))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: the admin listener cannot listen on 127.0.0.1:{port} (Address already in use): "
        "choose another admin port"
    )
    assert "Traceback" not in result.output


def test_workflows_and_templates_read_the_request_id(write_project: WriteProject) -> None:
    client = Client(create_app(write_project(REQUEST_ID_PAGE)))
    assert client.get("/api", headers={"X-Request-ID": "caller-7"}).json == {
        "id": "caller-7",
        "again": "caller-7",
    }
    made = client.get("/api").json
    assert made is not None and re.fullmatch("[0-9a-f]{32}", made["id"]) and made["again"] == made["id"]
    assert client.get("/page", headers={"X-Request-ID": "caller-8"}).text == "id=caller-8"
    assert client.get("/page", headers={"X-Request-ID": "bad id"}).text != "id=bad id"  # unsafe: replaced


def test_the_request_id_a_workflow_reads_is_the_one_sent_back_and_logged(
    write_project: WriteProject, capfd: pytest.CaptureFixture[str]
) -> None:
    app = observe_app(create_app(write_project(REQUEST_ID_PAGE)), Observation("json"))
    response = Client(app).get("/api")
    assert response.json is not None
    (line,) = [json.loads(text) for text in capfd.readouterr().err.splitlines()]
    assert response.json["id"] == response.headers["X-Request-ID"] == line["request_id"]


def test_serve_all_labels_each_access_line_with_the_environment_that_answered(
    sample: Path, secret: str, capfd: pytest.CaptureFixture[str]
) -> None:
    add_files(sample, OPS_FILES)
    app, _, _ = build_host_app(sample, wrap=lambda built, env: observe_app(built, Observation("json"), env))
    client = Client(app)
    assert client.get("/farm/", headers={"Host": "farm.example.com"}).status_code == 200
    assert client.get("/ops/version").status_code == 200
    lines = [json.loads(text) for text in capfd.readouterr().err.splitlines()]
    assert [(line["version"], line["environment"], line["path"]) for line in lines] == [
        ("v1.0.0", "production", "/farm/"),
        ("develop", None, "/ops/version"),
    ]
