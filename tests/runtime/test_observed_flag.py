"""An app nobody observes runs none of the observability hooks; wrapping it switches them on."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client

from epctl.runtime import app as app_module
from epctl.runtime.app import create_app
from epctl.runtime.observability.logs import configure_logging
from epctl.runtime.observability.middleware import ObservedApp
from tests.conftest import WriteProject

API_KEY = "sample-mobile-key"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """epctl's log lines, as JSON, in a string; the `epctl` logger is restored afterwards."""
    logger = logging.getLogger("epctl")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    stream = io.StringIO()
    configure_logging("json", stream)
    yield stream
    logger.handlers[:], logger.level, logger.propagate = saved


def refuse_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the app's hooks with ones that record their name; return the record."""
    called: list[str] = []
    for name in ("note_endpoint", "note_outcome", "note_user", "note_workflow_error", "workflow_span"):
        monkeypatch.setattr(app_module, name, lambda *args, hook=name: called.append(hook))
    return called


def test_an_unobserved_app_calls_no_hook(sample: Path, secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    called = refuse_calls(monkeypatch)
    client = Client(create_app(sample))
    assert client.get("/api/devices/tank-1/readings", headers={"Authorization": API_KEY}).status_code == 200
    assert client.get("/nowhere").status_code == 404
    assert client.get("/api/devices").status_code == 401
    assert called == []


def test_an_observed_app_notes_what_it_served(
    sample: Path, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without tracing the workflow runs without a span; endpoint, outcome and refusal are noted."""
    called = refuse_calls(monkeypatch)
    client = Client(ObservedApp(create_app(sample)))
    assert client.get("/api/devices/tank-1/readings", headers={"Authorization": API_KEY}).status_code == 200
    assert called == ["note_endpoint"]
    assert client.get("/nowhere").status_code == 404
    assert client.get("/api/devices").status_code == 401
    assert called == ["note_endpoint", "note_outcome", "note_endpoint", "note_outcome"]


LATE_FAILURE = {
    "epctl.toml": '[project]\nname = "late"\n',
    "endpoints/a.toml": """
[[endpoint]]
id = "late"
method = "GET"
route = "/late"
reply = { type = "page", page = "done" }
""",
    "pages/p.toml": '[[page]]\nname = "done"\nbody = "done"\n',
    "workflows/w.toml": '[[workflow]]\nname = "late"\nhandler = "h.py:late"\nendpoints = ["late"]\n',
    "workflows/h.py": 'def late(request):\n    raise RuntimeError("late fails")\n',
}


@pytest.mark.timeout(60)
def test_a_workflow_failing_after_a_static_reply_logs_the_request_id(
    write_project: WriteProject, log_stream: io.StringIO
) -> None:
    """The workflows behind a static reply run when the body is closed, outside the wrapper's call."""
    client = Client(ObservedApp(create_app(write_project(LATE_FAILURE))))
    response = client.get("/late", headers={"X-Request-ID": "rid-late"})
    assert response.status_code == 200
    response.close()
    (failure,) = [json.loads(line) for line in log_stream.getvalue().splitlines() if "late fails" in line]
    assert (failure["request_id"], failure["endpoint_id"], failure["level"]) == ("rid-late", "late", "ERROR")
