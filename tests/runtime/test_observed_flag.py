"""An app nobody observes runs none of the observability hooks; wrapping it switches them on."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from epctl.runtime import app as app_module
from epctl.runtime.app import create_app
from epctl.runtime.observability.middleware import ObservedApp

API_KEY = "sample-mobile-key"


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
