"""Real `epctl serve` and gunicorn processes on 127.0.0.1 ephemeral ports, for the sign-in tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

RUNNING = re.compile(r"(?:Running on|Listening at:) http://127\.0\.0\.1:(\d+)")
START_SECONDS = 60
PASSWORD = "correct horse battery staple"


def epctl_command(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "epctl.cli.main", "--project", str(project), *args]


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without the token secret or a database URL, plus `extra`."""
    environ = {k: v for k, v in os.environ.items() if k not in ("EPCTL_SECRET", "EPCTL_DATABASE_URL")}
    return {**environ, **(extra or {})}


def add_user(project: Path, email: str, environ: Mapping[str, str], *options: str) -> None:
    """`epctl users add EMAIL --password-stdin` with PASSWORD on stdin (never on the command line)."""
    subprocess.run(
        epctl_command(project, "users", "add", email, "--password-stdin", *options),
        input=PASSWORD + "\n",
        text=True,
        env=dict(environ),
        check=True,
        capture_output=True,
        timeout=60,
    )


@contextmanager
def running_server(project: Path, log_path: Path, environ: Mapping[str, str], *args: str) -> Iterator[str]:
    """Run `epctl serve --port 0 ARGS`; yield its URL once it listens; stop it after."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            epctl_command(project, "serve", "--port", "0", *args),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(environ),
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            found = RUNNING.search(log_path.read_text())
            if found:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"epctl serve did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{found.group(1)}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    """Return True as soon as `predicate()` holds, False when `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()
