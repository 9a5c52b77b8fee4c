"""`/readyz` and the users database: ready while it answers, not ready while it does not."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from werkzeug.test import Client

from epctl.runtime.app import create_app
from epctl.runtime.observability.admin import create_admin_app
from epctl.runtime.readiness import create_readiness, users_database_answers


def closed_port() -> int:
    """Return a port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.timeout(60)
def test_ready_while_the_users_database_answers(sample: Path, secret: str) -> None:
    ready = create_readiness(users_database_answers([create_app(sample)]))
    assert Client(create_admin_app(ready)).get("/readyz").status_code == 200


@pytest.mark.timeout(60)
def test_not_ready_while_the_users_database_does_not_answer(
    sample: Path, secret: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(sample)
    monkeypatch.setenv("EPCTL_DATABASE_URL", f"postgresql://epctl@127.0.0.1:{closed_port()}/farm")
    ready = create_readiness(users_database_answers([app]))
    assert Client(create_admin_app(ready)).get("/readyz").status_code == 503
    assert "not ready: the users database does not answer" in caplog.text


def test_an_app_without_users_asks_no_database() -> None:
    assert users_database_answers([])() is True
