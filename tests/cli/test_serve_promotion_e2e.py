"""End to end: promotion without downtime. A bounded load runs against `serve --env production
--workers 2` while `epctl promote` and a SIGHUP switch the version: no request fails, and afterwards
the info metric and a page printing `experience.version` agree. A version that cannot build is
refused on SIGHUP and the old one keeps serving."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.serving import (
    OPS_FILES,
    Server,
    add_files,
    fetch,
    scrape,
    served_versions,
    start_serve,
    start_server,
    wait_until_ready,
)
from tests.conftest import run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

LOAD_SECONDS_AT_MOST = 90
SWITCH_SECONDS = 30
PAGE = "/farm/ops/version"  # production is served under its root, /farm
BROKEN_HANDLER = {
    "workflows/broken.toml": """
        [[workflow]]
        name = "broken"
        handler = "broken.py:run"
        endpoints = ["ops-pid"]
        """,
    "workflows/broken.py": """
        raise RuntimeError("this version cannot start")


        def run(request):
            return None
        """,
}


class Load:
    """Requests to one URL from a few threads until stopped (or LOAD_SECONDS_AT_MOST), each outcome kept."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.stopped = threading.Event()
        self.outcomes: list[tuple[float, int | str, str]] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.send, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=15)

    def send(self) -> None:
        deadline = time.monotonic() + LOAD_SECONDS_AT_MOST
        while not self.stopped.is_set() and time.monotonic() < deadline:
            try:
                status, _, body = fetch(self.url)
            except OSError as err:  # refused, reset, timed out: a failed request
                status, body = type(err).__name__, str(err)
            with self.lock:
                self.outcomes.append((time.monotonic(), status, body))

    def failures(self) -> list[tuple[float, int | str, str]]:
        with self.lock:
            return [outcome for outcome in self.outcomes if outcome[1] != 200]

    def bodies_since(self, moment: float) -> Counter[str]:
        with self.lock:
            return Counter(body for at, _, body in self.outcomes if at >= moment)


def version_of(server: Server) -> str:
    status, _, body = fetch(server.url + PAGE)
    assert status == 200, body
    return body.split()[0].removeprefix("version=")


def wait_for_version(server: Server, version: str) -> None:
    """Wait until both the page and the info metric say `version`, and only it."""
    deadline = time.monotonic() + SWITCH_SECONDS
    while time.monotonic() < deadline:
        if served_versions(scrape(server.admin)) == {version} and version_of(server) == version:
            return
        time.sleep(0.1)
    raise AssertionError(
        f"still not serving {version} only: metric {served_versions(scrape(server.admin))}, "
        f"page {version_of(server)}\n{server.log_text()}"
    )


def snapshot_and_promote(runner: CliRunner, project: Path, name: str, *, test: bool = True) -> None:
    result = run(runner, project, "snapshot", name)
    assert result.exit_code == 0, result.output
    result = run(runner, project, "promote", name, "--env", "production", *([] if test else ["--no-test"]))
    assert result.exit_code == 0, result.output


def test_promote_and_hup_under_load_drops_no_request(
    sample: Path, secret: str, tmp_path: Path, runner: CliRunner
) -> None:
    add_files(sample, OPS_FILES)
    snapshot_and_promote(runner, sample, "v-a")
    server = start_serve(
        sample, tmp_path, "--env", "production", "--workers", "2", "--log-format", "json", "--admin-port", "0"
    )
    try:
        wait_until_ready(server.admin)
        assert version_of(server) == "v-a"
        assert served_versions(scrape(server.admin)) == {"v-a"}

        # The next version: a change to develop, frozen and promoted while the load runs.
        (sample / "pages/templates/ops-version.html").write_text("version={{ experience.version }} (b)\n")
        with Load(server.url + PAGE) as load:
            time.sleep(1)
            snapshot_and_promote(runner, sample, "v-b")
            assert version_of(server) == "v-a"  # epctl.toml changed; nothing served changes before HUP
            server.process.send_signal(signal.SIGHUP)
            wait_for_version(server, "v-b")
            switched = time.monotonic()
            time.sleep(1)
        assert load.failures() == []
        assert len(load.outcomes) > 50, len(load.outcomes)
        assert set(load.bodies_since(switched)) == {"version=v-b (b)"}
        server.wait_for(r'promoting environment \\"production\\" from version \\"v-a\\" to \\"v-b\\"')

        # A version whose handler raises when loaded: promoted without its cases, refused on HUP.
        add_files(sample, BROKEN_HANDLER)
        snapshot_and_promote(runner, sample, "v-c", test=False)
        with Load(server.url + PAGE) as load:
            server.process.send_signal(signal.SIGHUP)
            server.wait_for(r'reload refused: environment \\"production\\" points at version \\"v-c\\"')
            time.sleep(1)
        assert load.failures() == []
        assert set(load.bodies_since(0)) == {"version=v-b (b)"}
        assert served_versions(scrape(server.admin)) == {"v-b"}
        assert "this version cannot start" in server.log_text()
        assert fetch(server.admin + "/readyz")[0] == 200
    finally:
        assert server.stop() == 0


def test_gunicorn_by_hand_with_the_shipped_config_is_observed_and_promotes_on_hup(
    sample: Path, secret: str, tmp_path: Path, runner: CliRunner
) -> None:
    """`gunicorn -c python:epctl.runtime.observability.gunicorn_config "epctl.runtime:create_app(...)"`:
    access lines and metrics as under `serve`, and a HUP serves the version epctl.toml names then."""
    add_files(sample, OPS_FILES)
    snapshot_and_promote(runner, sample, "v-a")
    command = [
        sys.executable, "-m", "gunicorn", "-c", "python:epctl.runtime.observability.gunicorn_config",
        "-w", "2", "-b", "127.0.0.1:0", f"epctl.runtime:create_app({str(sample)!r}, env='production')",
    ]  # fmt: skip
    server = start_server(command, tmp_path, admin=True, EPCTL_ADMIN_PORT="0", EPCTL_LOG_FORMAT="json")
    try:
        wait_until_ready(server.admin)
        assert version_of(server) == "v-a"
        assert served_versions(scrape(server.admin)) == {"v-a"}
        (sample / "pages/templates/ops-version.html").write_text("version={{ experience.version }} (b)\n")
        with Load(server.url + PAGE) as load:
            time.sleep(1)
            snapshot_and_promote(runner, sample, "v-b")
            server.process.send_signal(signal.SIGHUP)
            wait_for_version(server, "v-b")
        assert load.failures() == []
    finally:
        assert server.stop() == 0
    lines = [json.loads(line) for line in server.log_text().splitlines()]
    access = [line for line in lines if line["logger"] == "epctl.access"]
    assert {(line["version"], line["environment"]) for line in access} == {
        ("v-a", "production"),
        ("v-b", "production"),
    }
    assert all(line["endpoint_id"] == "ops-version" for line in access)
