"""Fixtures of the command-line tests: `epctl serve` as a real process on 127.0.0.1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RUNNING = re.compile(r"(?:Running on|Listening at:) http://127\.0\.0\.1:(\d+)")
START_SECONDS = 30
STOP_SECONDS = 10


class Serve:
    """Starts `epctl serve ARGS` on an ephemeral port (the sample project unless told otherwise) and
    gives its URL; the fixture stops every server it started. Logs are `serve0.log`, `serve1.log`..."""

    def __init__(self, sample: Path, tmp_path: Path) -> None:
        self.sample = sample
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def __call__(self, *args: str, project: Path | None = None) -> str:
        log_path = self.tmp_path / f"serve{len(self.processes)}.log"
        command = [
            sys.executable,
            "-m",
            "epctl.cli.main",
            "--project",
            str(project or self.sample),
            "serve",
            "--port",
            "0",
            *args,
        ]
        with log_path.open("w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        self.processes.append(process)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            found = RUNNING.search(log_path.read_text())
            if found:
                return f"http://127.0.0.1:{found.group(1)}"
            if process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"epctl serve did not start:\n{log_path.read_text()}")

    def stop_all(self) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_SECONDS)


@pytest.fixture
def serve(sample: Path, secret: str, tmp_path: Path) -> Iterator[Serve]:
    """A `Serve` that starts `epctl serve` processes and stops them all after the test."""
    servers = Serve(sample, tmp_path)
    try:
        yield servers
    finally:
        servers.stop_all()
