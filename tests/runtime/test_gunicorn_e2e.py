"""End to end: real gunicorn with two workers serving a copy of the sample project over real HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from epctl.runtime.tokens import mint_token
from epctl.runtime.version_store import freeze_version
from epctl.schemas.loader import load_project

pytestmark = pytest.mark.e2e

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
START_SECONDS = 30
STOP_SECONDS = 10


@pytest.fixture
def served(sample: Path, secret: str, tmp_path: Path) -> Iterator[str]:
    """Start gunicorn on an ephemeral port; yield its base URL; always stop it."""
    with run_gunicorn(f"epctl.runtime:create_app({str(sample)!r})", 2, tmp_path) as (url, _):
        yield url


@contextmanager
def run_gunicorn(
    target: str, workers: int, folder: Path, options: tuple[str, ...] = ()
) -> Iterator[tuple[str, Path]]:
    """Run `gunicorn target` (default sync workers, unless `options` say otherwise) on 127.0.0.1 at an
    ephemeral port, logging into `folder`; yield its base URL and log file; always stop it."""
    log_path = folder / "gunicorn.log"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(folder)}  # gunicorn's control socket: one per test run
    command = [sys.executable, "-m", "gunicorn", target, "-w", str(workers), "-b", "127.0.0.1:0", *options]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    try:
        yield f"http://127.0.0.1:{wait_for_port(process, log_path)}", log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)


def wait_for_port(process: subprocess.Popen[bytes], log_path: Path) -> int:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        found = LISTENING.search(log_path.read_text())
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not start:\n{log_path.read_text()}")


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        # Generous: a worker may still be importing and building the app when the port opens.
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def test_gunicorn_serves_the_sample(served: str, sample: Path) -> None:
    status, headers, body = fetch(served + "/")
    assert status == 200
    assert "<h1>Welcome to smart-farm</h1>" in body  # the page
    assert "<header>" in body  # its layout
    assert "<footer>" in body  # the layout's component
    assert headers["X-Frame-Options"] == "DENY"

    status, headers, body = fetch(served + "/api/exports/readings.json")
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert json.loads(body) == {"export": "readings", "rows": [[1, 70], [2, 71]]}

    status, _, body = fetch(served + "/api/me")
    assert (status, json.loads(body)["error"]) == (401, "Unauthorized")

    token = mint_token(load_project(sample), "ann", ["admins"], 600)
    status, _, body = fetch(served + "/api/me", {"Authorization": f"Bearer {token}"})
    assert (status, json.loads(body)) == (200, {"sub": "ann", "groups": ["admins"]})


def test_gunicorn_serves_static_files_with_their_hash_and_304(served: str) -> None:
    _, _, page = fetch(served + "/")
    found = re.search(r'href="(/static/site\.css\?v=[0-9a-f]{16})"', page)
    assert found, page  # the layout links its stylesheet with static_url
    status, headers, body = fetch(served + found.group(1))
    assert (status, headers["Content-Type"]) == (200, "text/css; charset=utf-8")
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "font-family" in body
    status, headers, body = fetch(served + "/static/site.css", {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, "")
    assert headers["Cache-Control"] == "no-cache"


def test_gunicorn_serves_a_frozen_versions_static_files_from_its_file_alone(
    sample: Path, secret: str, tmp_path: Path
) -> None:
    freeze_version(sample, "v2")
    css = (sample / "static" / "site.css").read_text()
    shutil.rmtree(sample / "static")
    with run_gunicorn(f"epctl.runtime:create_app({str(sample)!r}, version='v2')", 1, tmp_path) as (url, _):
        status, headers, body = fetch(url + "/static/site.css")
        assert (status, body) == (200, css)
        status, _, _ = fetch(url + "/static/site.css", {"If-None-Match": headers["ETag"]})
        assert status == 304
