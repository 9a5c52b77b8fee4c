"""Access lines written in batches (`AccessLog(buffered=True)`, as under gunicorn's workers): they
arrive whole, in order, within a tenth of a second, at exit, and never twice after a fork."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from epctl.runtime.observability.access_log import AccessLog, AccessRecord

SUBPROCESS_SECONDS = 60


def make_record(request_id: str) -> AccessRecord:
    return AccessRecord(0.0, request_id, "GET", "/devices/42", "", 200, 0.002, endpoint_id="device")


def read_ids(path: Path) -> list[str]:
    return [json.loads(line)["request_id"] for line in path.read_text().splitlines()]


@pytest.mark.timeout(30)
def test_lines_of_two_logs_on_one_file_arrive_whole_and_in_order_without_a_flush(tmp_path: Path) -> None:
    # `serve --all` has an access log per environment, all writing to stderr.
    path = tmp_path / "access.log"
    with path.open("w") as stream:
        logs = [AccessLog("json", stream, buffered=True), AccessLog("json", stream, buffered=True)]
        sent = [f"req-{n}" for n in range(60)]  # past one batch (PIPE_BUF bytes)
        for n, request_id in enumerate(sent):
            logs[n % 2].write(make_record(request_id))
        deadline = time.monotonic() + 10
        while len(read_ids(path)) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert read_ids(path) == sent


def test_a_log_on_a_terminal_is_written_at_once() -> None:
    leader, follower = pty.openpty()
    try:
        with open(follower, "w", closefd=False) as terminal:
            AccessLog("text", terminal, buffered=True).write(make_record("req-tty"))
            assert select.select([leader], [], [], 0)[0], "nothing written yet"
            assert b"req-tty" in os.read(leader, 4096)
    finally:
        os.close(leader)
        os.close(follower)


HELD_THEN_FORK = """
import os, sys, time
from epctl.runtime.observability.access_log import AccessLog, AccessRecord

def record(request_id):
    return AccessRecord(0.0, request_id, "GET", "/p", "", 200, 0.001)

log = AccessLog("json", sys.stderr, buffered=True)
log.write(record("parent-1"))
log.write(record("parent-2"))
child = os.fork()
if child == 0:
    log.write(record("child-1"))
    sys.exit(0)  # exits normally: writes what it holds, never its parent's lines
os.waitpid(child, 0)
"""


def test_a_process_writes_what_it_holds_as_it_exits_and_a_child_never_its_parents(tmp_path: Path) -> None:
    path = tmp_path / "stderr.log"
    with path.open("w") as stderr:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(HELD_THEN_FORK)],
            stderr=stderr,
            timeout=SUBPROCESS_SECONDS,
            check=False,
        )
    assert done.returncode == 0, path.read_text()
    assert sorted(read_ids(path)) == ["child-1", "parent-1", "parent-2"]
