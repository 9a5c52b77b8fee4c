"""End to end: `epctl serve` as a user runs it, a real server process on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Serve

pytestmark = pytest.mark.e2e


def fetch(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def wait_for(predicate: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_serve_develop_reloads_on_edits_and_keeps_the_last_good_app(serve: Serve, sample: Path) -> None:
    url = serve()
    assert "Welcome to smart-farm" in fetch(url + "/")[1]
    (sample / "pages" / "templates" / "home.html").write_text("<h1>Edited while serving</h1>\n")
    assert wait_for(lambda: "Edited while serving" in fetch(url + "/")[1])
    (sample / "endpoints" / "site.toml").write_text("[[endpoint]\nbroken")
    time.sleep(1.5)  # three polls of the watcher
    status, body = fetch(url + "/")
    assert (status, "Edited while serving" in body) == (200, True)


def test_serve_all_answers_two_hosts_with_two_versions(serve: Serve, sample: Path) -> None:
    (sample / "pages" / "templates" / "home.html").write_text("<h1>Develop only</h1>\n")
    url = serve("--all")
    status, production = fetch(url + "/farm/", host="farm.example.com")
    assert status == 200 and "Welcome to smart-farm" in production and "v1.0.0 · rendered" in production
    status, develop = fetch(url + "/", host="localhost")
    assert status == 200 and "Develop only" in develop


def test_serve_a_frozen_version_with_two_gunicorn_workers(serve: Serve, sample: Path) -> None:
    (sample / "pages" / "templates" / "home.html").write_text("<h1>Develop only</h1>\n")
    url = serve("--version", "v1.0.0", "--workers", "2")
    status, body = fetch(url + "/")
    assert status == 200 and "Welcome to smart-farm" in body


def test_the_development_server_routes_the_path_as_sent(serve: Serve) -> None:
    """`GET //dashboard` is 404 on the development server, as `epctl match` and gunicorn say (Python's
    http.server would route it as `/dashboard`)."""
    url = serve()
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
    try:
        connection.request("GET", "//dashboard")
        response = connection.getresponse()
        assert response.status == 404
        response.read()
        connection.request("GET", "/dashboard")
        assert connection.getresponse().status == 301
    finally:
        connection.close()


def test_the_log_written_to_a_file_has_no_colour_codes(serve: Serve, tmp_path: Path) -> None:
    url = serve()
    assert fetch(url + "/")[0] == 200
    assert fetch(url + "/no/such/page")[0] == 404
    # Not a terminal: the log is JSON lines, the access line in place of werkzeug's request line.
    assert wait_for(lambda: '"path":"/no/such/page"' in (tmp_path / "serve0.log").read_text())
    log = (tmp_path / "serve0.log").read_text()
    (line,) = [line for line in log.splitlines() if '"path":"/no/such/page"' in line]
    assert (json.loads(line)["status"], json.loads(line)["outcome"]) == (404, "not-found")
    assert "WARNING: This is a development server." in log
    assert "\x1b" not in log


def test_log_colour_only_on_a_terminal_without_no_color(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from epctl.runtime.servers import stream_is_colour_terminal

    leader, follower = os.openpty()
    with open(follower, "w") as terminal, (tmp_path / "log").open("w") as file:
        monkeypatch.delenv("NO_COLOR", raising=False)
        assert (stream_is_colour_terminal(terminal), stream_is_colour_terminal(file)) == (True, False)
        monkeypatch.setenv("NO_COLOR", "1")
        assert stream_is_colour_terminal(terminal) is False
    os.close(leader)


def test_serve_env_under_gunicorn_puts_the_root_on_redirects(serve: Serve, tmp_path: Path) -> None:
    """Issue 10: with `root = "/farm"`, a static redirect and the unauthorized redirect carry the root,
    through real gunicorn (gthread workers) as on the test client."""
    url = serve("--env", "production", "--workers", "2")
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
    try:
        connection.request("GET", "/farm/dashboard")
        response = connection.getresponse()
        response.read()
        assert (response.status, response.getheader("Location")) == (301, "/farm/devices")
        connection.request("GET", "/farm/devices")
        response = connection.getresponse()
        response.read()
        assert (response.status, response.getheader("Location")) == (302, "/farm/login?next=/devices")
    finally:
        connection.close()
    # Issue 11: threaded workers, so a slow client holds a thread, not a whole worker.
    assert "Using worker: gthread" in (tmp_path / "serve0.log").read_text()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("args", [(), ("--version", "v1.0.0")], ids=["develop", "frozen-version"])
def test_sigterm_stops_the_server_as_ctrl_c_does(serve: Serve, args: tuple[str, ...]) -> None:
    """`docker stop`, systemd and Kubernetes send SIGTERM: the server stops at once and exits 0."""
    url = serve(*args)
    assert fetch(url + "/")[0] == 200
    process = serve.processes[-1]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert "Traceback" not in (serve.tmp_path / "serve0.log").read_text()
