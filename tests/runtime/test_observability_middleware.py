"""ObservedApp: request ids sent back, one access line and one count per request, ids on error lines."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from werkzeug.test import Client

from epctl.runtime import create_app
from epctl.runtime.observability.access_log import AccessLog, Outcome
from epctl.runtime.observability.context import (
    RequestContext,
    current_request,
    note_endpoint,
    note_outcome,
    note_user,
    note_workflow_error,
)
from epctl.runtime.observability.logs import configure_logging
from epctl.runtime.observability.metrics import Metrics
from epctl.runtime.observability.middleware import REQUEST_ID_KEY, ObservedApp
from tests.conftest import MintToken

StartResponse = Any


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """epctl's log lines, as JSON, in a string; the `epctl` logger is restored afterwards."""
    logger = logging.getLogger("epctl")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    stream = io.StringIO()
    configure_logging("json", stream)
    yield stream
    logger.handlers[:], logger.level, logger.propagate = saved


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def device_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Routes /devices/<id> like an epctl app would tell it; anything else is not found."""
    path = environ["PATH_INFO"]
    if not path.startswith("/devices/"):
        note_outcome(Outcome.NOT_FOUND)
        start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]
    note_endpoint("device", "/devices/{id}")
    note_user("ada")
    note_workflow_error()
    logging.getLogger("epctl.runtime").error("workflow failed")
    body = json.dumps({"request_id": environ[REQUEST_ID_KEY]}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def observed(app: Any, stream: io.StringIO) -> Client:
    access_log = AccessLog("json", stream)
    return Client(ObservedApp(app, version="v1.0.0", environment="production", access_log=access_log))


def test_one_access_line_per_request_with_what_the_app_noted(log_stream: io.StringIO) -> None:
    response = observed(device_app, log_stream).get(
        "/devices/7?apikey=sample-mobile-key", headers={"X-Request-ID": "abc-1"}
    )
    assert response.headers["X-Request-ID"] == "abc-1"
    assert response.json == {"request_id": "abc-1"}
    error, access = lines(log_stream)
    assert (error["message"], error["request_id"], error["endpoint_id"]) == (
        "workflow failed",
        "abc-1",
        "device",
    )
    assert access["duration_ms"] > 0
    del access["time"], access["duration_ms"]
    assert access == {
        "level": "INFO",
        "logger": "epctl.access",
        "request_id": "abc-1",
        "method": "GET",
        "path": "/devices/7?apikey=[redacted]",
        "route": "/devices/{id}",
        "endpoint_id": "device",
        "status": 200,
        "bytes": 23,
        "version": "v1.0.0",
        "environment": "production",
        "user": "ada",
        "outcome": None,
        "workflow_errors": 1,
    }
    assert current_request() is None


def test_a_new_request_id_is_sent_back_when_none_was_given(log_stream: io.StringIO) -> None:
    response = observed(device_app, log_stream).get("/nope")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    (access,) = lines(log_stream)
    assert (access["request_id"], access["status"], access["outcome"]) == (request_id, 404, "not-found")
    assert access["endpoint_id"] is None


def test_requests_are_counted() -> None:
    labels = {"endpoint": "device", "method": "GET", "status_class": "2xx"}
    before = REGISTRY.get_sample_value("epctl_requests_total", labels) or 0.0
    not_found = REGISTRY.get_sample_value("epctl_not_found_total") or 0.0
    client = Client(ObservedApp(device_app, metrics=Metrics("v1.0.0")))
    client.get("/devices/1")
    client.get("/devices/2")
    client.get("/elsewhere")
    assert REGISTRY.get_sample_value("epctl_requests_total", labels) == before + 2
    assert REGISTRY.get_sample_value("epctl_not_found_total") == not_found + 1


def test_a_streamed_reply_is_logged_when_it_ends(log_stream: io.StringIO) -> None:
    def streaming(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"abc"
        yield b"defg"

    app = ObservedApp(streaming, access_log=AccessLog("json", log_stream))
    body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/s"}, lambda status, headers, exc_info=None: None)
    assert lines(log_stream) == []  # nothing yet: the body is still to be sent
    assert b"".join(body) == b"abcdefg"
    body.close()  # type: ignore[attr-defined]  # what a WSGI server calls when the reply is sent
    (access,) = lines(log_stream)
    assert (access["status"], access["bytes"], access["path"]) == (200, 7, "/s")
    assert current_request() is None


def test_a_streamed_reply_closed_from_another_thread_is_logged_too(log_stream: io.StringIO) -> None:
    def streaming(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"abc"

    app = ObservedApp(streaming, access_log=AccessLog("json", log_stream))
    body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/s"}, lambda status, headers, exc_info=None: None)
    assert b"".join(body) == b"abc"
    closer = threading.Thread(target=body.close)  # type: ignore[attr-defined]  # a WSGI body's close
    closer.start()
    closer.join(timeout=10)
    (access,) = lines(log_stream)
    assert (access["status"], access["bytes"]) == (200, 3)


def test_an_app_that_raises_is_logged_as_500(log_stream: io.StringIO) -> None:
    def broken(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        Client(ObservedApp(broken, access_log=AccessLog("json", log_stream))).get("/x")
    (access,) = lines(log_stream)
    assert access["status"] == 500
    assert current_request() is None


def test_an_id_the_app_sends_itself_is_not_doubled() -> None:
    def own_id(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("x-request-id", "mine"), ("Content-Length", "0")])
        return []

    response = Client(ObservedApp(own_id)).get("/")
    assert response.headers.getlist("X-Request-ID") == ["mine"]


def test_the_bound_context_has_every_field_of_a_request_context() -> None:
    """The wrapper's context sets RequestContext's fields itself: none may be missing or different."""
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        context = current_request()
        assert isinstance(context, RequestContext)
        seen.append({field.name: getattr(context, field.name) for field in dataclasses.fields(context)})
        start_response("200 OK", [("Content-Length", "0")])
        return []

    Client(ObservedApp(app)).get("/", headers={"X-Request-ID": "r-1"})
    assert seen == [dataclasses.asdict(RequestContext("r-1"))]


def test_notes_outside_a_request_do_nothing() -> None:
    note_endpoint("e", "/e")
    note_user("ada")
    note_outcome(Outcome.FORBIDDEN)
    note_workflow_error()
    assert current_request() is None


def test_the_sample_app_observed(sample: Path, sample_token: MintToken, log_stream: io.StringIO) -> None:
    """The real app, wrapped: request id back, credentials in the query never in the line."""
    token = sample_token("ann", ["admins"])
    access_log = AccessLog("json", log_stream)
    client = Client(ObservedApp(create_app(sample), version="develop", access_log=access_log))
    response = client.get(f"/api/me?authorization={token}", headers={"X-Request-ID": "me-1"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (200, "me-1")
    (access,) = lines(log_stream)
    assert access["path"] == "/api/me?authorization=[redacted]"
    assert token not in log_stream.getvalue()


def test_workflows_behind_a_static_reply_count_their_failures_once_the_reply_is_sent(
    write_project: Any, secret: str, log_stream: io.StringIO
) -> None:
    """They run after the reply is sent and its access line written: their failures still reach the
    metrics, with the endpoint's id, and their log lines still carry the request id."""
    root = write_project(
        {
            "endpoints/ping.toml": """
                [[endpoint]]
                id = "ping"
                method = "GET"
                route = "/ping"
                reply = { type = "redirect", to = "/" }
            """,
            "workflows/ping.toml": """
                [[workflow]]
                name = "audit"
                handler = "audit.py:record"
                endpoints = ["ping"]
            """,
            "workflows/audit.py": "def record(request):\n    raise RuntimeError('audit store down')\n",
        }
    )
    labels = {"endpoint": "ping"}
    before = REGISTRY.get_sample_value("epctl_workflow_errors_total", labels) or 0.0
    access_log = AccessLog("json", log_stream)
    app = ObservedApp(create_app(root), version="develop", access_log=access_log, metrics=Metrics("develop"))
    response = Client(app).get("/ping", headers={"X-Request-ID": "ping-1"})
    assert response.status_code == 301
    response.close()
    assert REGISTRY.get_sample_value("epctl_workflow_errors_total", labels) == before + 1
    failed = [line for line in lines(log_stream) if line["logger"] == "epctl.runtime"]
    assert [(line["request_id"], line["endpoint_id"]) for line in failed] == [("ping-1", "ping")]
