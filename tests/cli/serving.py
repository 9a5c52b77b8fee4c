"""Helpers of the end-to-end serving tests: start `epctl serve` as a user runs it, fetch, scrape.

`OPS_FILES` adds to a project three endpoints that show what a server does: `/ops/pid` (the pid of
the worker that answered, after `?seconds=S`), `/ops/version` (a page printing the version served
and the request id) and `/ops/boom` (a workflow that raises).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from tests.admin_scrapes import (  # noqa: F401 (re-exported: the e2e tests import them from here)
    Reply,
    Samples,
    fetch,
    labels,
    scrape,
    scrape_counted,
    served_versions,
    wait_until_ready,
)

START_SECONDS = 30
STOP_SECONDS = 15

OPS_FILES = {
    "endpoints/ops.toml": """
        [[endpoint]]
        id = "ops-pid"
        method = "GET"
        route = "/ops/pid"

        [[endpoint]]
        id = "ops-version"
        method = "GET"
        route = "/ops/version"
        reply = { type = "page", page = "ops-version" }

        [[endpoint]]
        id = "ops-boom"
        method = "GET"
        route = "/ops/boom"
        """,
    "workflows/ops.toml": """
        [[workflow]]
        name = "ops-pid"
        handler = "ops.py:pid"
        endpoints = ["ops-pid"]

        [[workflow]]
        name = "ops-boom"
        handler = "ops.py:boom"
        endpoints = ["ops-boom"]
        """,
    "workflows/ops.py": """
        import os
        import time


        def pid(request):
            time.sleep(min(float(request.query.get("seconds", "0")), 5.0))
            return {"pid": os.getpid(), "request_id": request.id}


        def boom(request):
            raise RuntimeError("ops boom")
        """,
    "pages/ops.toml": """
        [[page]]
        name = "ops-version"
        template = "templates/ops-version.html"
        """,
    "pages/templates/ops-version.html": "version={{ experience.version }} request={{ request.id }}\n",
}


def add_files(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""
    admin: str = ""

    def log_text(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, pattern: str, *, count: int = 1, seconds: float = START_SECONDS) -> re.Match[str]:
        """Return the last match of `pattern` once the log holds `count` of them."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = list(re.finditer(pattern, self.log_text()))
            if len(found) >= count:
                return found[-1]
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the server did not log {pattern!r} x{count}:\n{self.log_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=STOP_SECONDS)


def start_serve(project: Path, tmp_path: Path, *args: str, **env: str) -> Server:
    """Start `epctl --project PROJECT serve --port 0 ARGS` with its output in a log file; wait until it
    listens (and its admin listener, when `--admin-port` is given)."""
    command = [sys.executable, "-m", "epctl.cli.main", "--project", str(project), "serve", "--port", "0"]
    return start_server([*command, *args], tmp_path, admin="--admin-port" in args, **env)


def start_server(command: list[str], tmp_path: Path, *, admin: bool, **env: str) -> Server:
    """Start `command` with its output in a log file; wait until it listens (and its admin listener)."""
    log_path = tmp_path / f"serve-{time.monotonic_ns()}.log"
    environ = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    # XDG_RUNTIME_DIR: where gunicorn puts its control socket, one per test.
    environ.update({"XDG_RUNTIME_DIR": str(tmp_path), **env})
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environ)
    server = Server(process, log_path)
    try:
        port = server.wait_for(r"(?:Running on|Listening at:) http://127\.0\.0\.1:(\d+)").group(1)
        server.url = f"http://127.0.0.1:{port}"
        if admin:
            server.admin = server.wait_for(r"Admin listening at: (http://127\.0\.0\.1:\d+)").group(1)
    except BaseException:
        server.stop()
        raise
    return server
