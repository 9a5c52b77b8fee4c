"""End to end: a real gunicorn with 2 workers and epctl's gunicorn configuration module: JSON lines
only, one access line per request, metrics of both workers summed on the admin listener, health."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.admin_scrapes import fetch, scrape_counted, wait_until_ready

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 30
STOP_SECONDS = 10
CONFIG = "python:epctl.runtime.observability.gunicorn_config"
APP = "tests.runtime.observed_gunicorn_app:create_app()"


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str
    admin: str

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()


def start_gunicorn(
    tmp_path: Path, app: str = APP, options: tuple[str, ...] = (), **env: str
) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = tmp_path / "gunicorn.log"
    environ = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    # XDG_RUNTIME_DIR: gunicorn's control socket, one per test run.
    environ.update({"XDG_RUNTIME_DIR": str(tmp_path), **env})
    command = [sys.executable, "-m", "gunicorn", "-c", CONFIG, "-w", "2", "-b", "127.0.0.1:0", *options, app]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environ, cwd=ROOT)
    return process, log_path


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=STOP_SECONDS)


def wait_for(log_path: Path, process: subprocess.Popen[bytes], pattern: str) -> re.Match[str]:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        found = re.search(pattern, log_path.read_text())
        if found:
            return found
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"gunicorn did not log {pattern!r}:\n{log_path.read_text()}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """gunicorn on ephemeral ports (site and admin); always stopped."""
    metrics_dir = tmp_path / "metrics"
    process, log_path = start_gunicorn(
        tmp_path, EPCTL_ADMIN_PORT="0", EPCTL_LOG_FORMAT="json", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    )
    try:
        site = wait_for(log_path, process, r"Listening at: (http://127\.0\.0\.1:\d+)").group(1)
        admin = wait_for(log_path, process, r"Admin listening at: (http://127\.0\.0\.1:\d+)").group(1)
        yield Served(process, log_path, site, admin)
    finally:
        stop(process)


def test_two_workers_one_scrape_one_json_line_per_request(served: Served) -> None:
    assert fetch(served.admin + "/livez")[:3:2] == (200, "ok\n")
    wait_until_ready(served.admin)
    assert fetch(served.admin + "/readyz")[:3:2] == (200, "ready\n")

    # Two slow requests at once: each worker holds one, so both workers serve.
    with ThreadPoolExecutor(2) as pool:
        slow = list(pool.map(lambda _: fetch(served.url + "/slow?seconds=1"), range(2)))
    pids = {json.loads(body)["pid"] for _, _, body in slow}
    assert len(pids) == 2, slow
    for _ in range(10):
        status, headers, body = fetch(served.url + "/pid")
        assert status == 200
        pids.add(json.loads(body)["pid"])
    secret = "hunter2-sample-key"
    status, headers, _ = fetch(f"{served.url}/nope?apikey={secret}", {"X-Request-ID": "e2e-404"})
    assert (status, headers["X-Request-ID"]) == (404, "e2e-404")
    assert fetch(served.url + "/boom", {"X-Request-ID": "e2e-boom"})[0] == 500

    samples = scrape_counted(served.admin, 14)
    requests = "epctl_requests_total"
    assert (
        samples[(requests, frozenset({"endpoint": "slow", "method": "GET", "status_class": "2xx"}.items()))]
        == 2
    )
    assert (
        samples[(requests, frozenset({"endpoint": "pid", "method": "GET", "status_class": "2xx"}.items()))]
        == 10
    )
    assert samples[("epctl_not_found_total", frozenset())] == 1
    assert samples[("epctl_workflow_errors_total", frozenset({"endpoint": "boom"}.items()))] == 1
    assert sum(value for (name, _), value in samples.items() if name == requests) == 14
    info = frozenset({"version": "v-test", "digest": "sha256:test", "environment": "e2e"}.items())
    assert samples[("epctl_version_info", info)] == 1

    # A reload (SIGHUP) replaces both workers: the counts of the old ones stay summed, the listener stays.
    booted = served.log_path.read_text().count("Booting worker")
    served.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        text = served.log_path.read_text()
        if text.count("Booting worker") == booted + 2 and text.count("Worker exiting") == 2:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"gunicorn did not replace its two workers:\n{served.log_path.read_text()}")
    assert fetch(served.url + "/pid")[0] == 200
    samples = scrape_counted(served.admin, 15)
    assert (
        samples[(requests, frozenset({"endpoint": "pid", "method": "GET", "status_class": "2xx"}.items()))]
        == 11
    )
    assert samples[("epctl_version_info", info)] == 1
    # What a worker loaded as it booted is out of the garbage collector's sight: no full collection walks it.
    assert json.loads(fetch(served.url + "/gc")[2])["frozen"] > 1000

    assert stop(served.process) == 0
    lines = [json.loads(line) for line in served.log_lines()]  # every line is JSON
    access = [line for line in lines if line["logger"] == "epctl.access"]
    assert len(access) == 16  # one per request: gunicorn's own access line is off
    assert {line["request_id"] for line in access} >= {"e2e-404", "e2e-boom"}
    (not_found,) = [line for line in access if line["request_id"] == "e2e-404"]
    assert not_found["path"] == "/nope?apikey=[redacted]"
    assert (not_found["status"], not_found["outcome"], not_found["version"]) == (404, "not-found", "v-test")
    assert secret not in served.log_path.read_text()
    (failure,) = [line for line in lines if line.get("message") == 'workflow "boom" failed']
    assert (failure["request_id"], failure["endpoint_id"]) == ("e2e-boom", "boom")
    assert failure["exception"].endswith("RuntimeError: workflow bug")
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # gunicorn's lines in the same format
    assert fetch_refused(served.admin + "/livez")


def fetch_refused(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.URLError:
        return True
    return False


@pytest.mark.parametrize("port", ["nine", "\u00b2"])  # "²" is a digit to str.isdigit, not to int()
def test_a_bad_admin_port_stops_gunicorn_with_a_message(tmp_path: Path, port: str) -> None:
    process, log_path = start_gunicorn(tmp_path, EPCTL_ADMIN_PORT=port)
    try:
        assert process.wait(timeout=START_SECONDS) != 0
    finally:
        stop(process)
    assert f'EPCTL_ADMIN_PORT must be a port number from 0 to 65535, not "{port}"' in log_path.read_text()
    assert "Traceback" not in log_path.read_text()


def test_a_bad_log_format_stops_gunicorn_with_a_message(tmp_path: Path) -> None:
    """Checked when gunicorn reads the configuration module: importing it is enough to see."""
    result = subprocess.run(
        [sys.executable, "-c", "import epctl.runtime.observability.gunicorn_config"],
        capture_output=True,
        text=True,
        env={**os.environ, "EPCTL_LOG_FORMAT": "xml"},
        timeout=START_SECONDS,
    )
    assert (result.returncode, result.stderr) == (
        1,
        'EPCTL_LOG_FORMAT: log format must be "text" or "json", not "xml"\n',
    )


def test_without_an_admin_port_there_is_no_listener_and_no_metrics_directory(tmp_path: Path) -> None:
    process, log_path = start_gunicorn(tmp_path, EPCTL_LOG_FORMAT="text")
    try:
        url = wait_for(log_path, process, r"Listening at: (http://127\.0\.0\.1:\d+)").group(1)
        assert fetch(url + "/pid")[0] == 200
    finally:
        assert stop(process) == 0
    text = log_path.read_text()
    assert "Admin listening" not in text
    assert re.search(r"Z INFO gunicorn\.error: Listening at: http://127\.0\.0\.1:\d+", text), text
    assert re.search(r"Z \S+ GET /pid 200 \S+ms \d+B endpoint=pid route=/pid version=v-test env=e2e", text)


@pytest.mark.timeout(90)
def test_a_preloaded_app_is_not_ready_while_its_users_database_does_not_answer(
    tmp_path: Path, sample: Path, secret: str
) -> None:
    from tests.runtime.test_readiness import closed_port

    process, log_path = start_gunicorn(
        tmp_path,
        f"epctl.runtime:create_app({str(sample)!r})",
        ("--preload",),
        EPCTL_ADMIN_PORT="0",
        EPCTL_LOG_FORMAT="json",
        EPCTL_DATABASE_URL=f"postgresql://epctl@127.0.0.1:{closed_port()}/farm",
    )
    try:
        admin = wait_for(log_path, process, r"Admin listening at: (http://127\.0\.0\.1:\d+)").group(1)
        # Not ready until a worker announces its version either: ask until the database is the reason.
        deadline = time.monotonic() + START_SECONDS
        while "the users database does not answer" not in log_path.read_text():
            assert fetch(admin + "/readyz")[::2] == (503, "not ready\n")
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        assert fetch(admin + "/readyz")[::2] == (503, "not ready\n")
    finally:
        stop(process)
