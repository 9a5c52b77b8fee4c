"""End to end: the request deadline under gunicorn's workers (README "Reliability").

A sync worker runs each request in its main thread, where the deadline is a SIGALRM timer: the
workflow is interrupted, the caller gets 504, and the same worker serves the next request at once.
A gthread worker (as `epctl serve --workers` runs) runs it in one of its threads, where the deadline's
watchdog interrupts it; a thread stuck in a call Python cannot interrupt recycles the worker.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.test_gunicorn_e2e import fetch, run_gunicorn

pytestmark = pytest.mark.e2e

SLOW_ENDPOINT = """
[[endpoint]]
id = "slow"
method = "GET"
route = "/slow"
"""
SLOW_WORKFLOW = """
[[workflow]]
name = "slow"
handler = "slow.py:sleep_long"
endpoints = ["slow"]
"""
SLOW_HANDLER = """
import os
import time


def sleep_long(request):
    time.sleep(60)
    return {"pid": os.getpid()}


def spin(request):
    while True:
        pass
"""
SPIN_ENDPOINT = """
[[endpoint]]
id = "spin"
method = "GET"
route = "/spin"
"""
SPIN_WORKFLOW = """
[[workflow]]
name = "spin"
handler = "slow.py:spin"
endpoints = ["spin"]
"""
FAST_ENDPOINT = """
[[endpoint]]
id = "fast"
method = "GET"
route = "/fast"
"""
FAST_WORKFLOW = """
[[workflow]]
name = "fast"
handler = "slow.py:answer_pid"
endpoints = ["fast"]
"""
FAST_HANDLER = """

def answer_pid(request):
    return {"pid": os.getpid()}
"""


@pytest.fixture
def slow_sample(sample: Path) -> Path:
    """The sample with a workflow that sleeps a minute, under a 1-second request_timeout."""
    config = sample / "epctl.toml"
    config.write_text(config.read_text().replace("[settings]\n", '[settings]\nrequest_timeout = "1s"\n', 1))
    (sample / "endpoints" / "slow.toml").write_text(SLOW_ENDPOINT + SPIN_ENDPOINT + FAST_ENDPOINT)
    (sample / "workflows" / "slow.toml").write_text(SLOW_WORKFLOW + SPIN_WORKFLOW + FAST_WORKFLOW)
    (sample / "workflows" / "slow.py").write_text(SLOW_HANDLER + FAST_HANDLER)
    return sample


@pytest.fixture
def one_sync_worker(slow_sample: Path, secret: str, tmp_path: Path) -> Iterator[str]:
    """gunicorn with one sync worker (its default class) on an ephemeral port; yield its base URL."""
    with run_gunicorn(f"epctl.runtime:create_app({str(slow_sample)!r})", 1, tmp_path) as (url, log_path):
        yield url
    assert "interrupted" in log_path.read_text()  # the workflow was stopped, not left running


@pytest.mark.timeout(90)
def test_a_sync_worker_answers_504_at_the_deadline_and_serves_on(one_sync_worker: str) -> None:
    status, _, fast_body = fetch(one_sync_worker + "/fast")
    assert status == 200
    status, _, body = fetch(one_sync_worker + "/slow")
    # The app's 504: gunicorn's own worker timeout (30 s) would have closed the connection instead.
    assert (status, body) == (504, '{"error":"Gateway timeout"}')
    status, _, again = fetch(one_sync_worker + "/fast")
    assert (status, again) == (200, fast_body)  # the same worker process, not a restarted one


# gthread as `epctl serve --workers` runs it, with the configuration module gunicorn users run by hand
# (its worker hook recycles a worker whose request thread is stuck); short timeouts keep the test short.
GTHREAD = (
    "-k", "gthread", "--threads", "4", "-c", "python:epctl.runtime.observability.gunicorn_config",
    "--graceful-timeout", "2", "--timeout", "4",
)  # fmt: skip


@pytest.fixture
def one_gthread_worker(slow_sample: Path, secret: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    target = f"epctl.runtime:create_app({str(slow_sample)!r})"
    with run_gunicorn(target, 1, tmp_path, GTHREAD) as served:
        yield served


def read_cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) process `pid` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.timeout(90)
def test_a_gthread_worker_interrupts_a_looping_workflow_at_the_deadline(
    one_gthread_worker: tuple[str, Path],
) -> None:
    url, log_path = one_gthread_worker
    status, _, fast_body = fetch(url + "/fast")
    pid = json.loads(fast_body)["pid"]
    status, _, body = fetch(url + "/spin")
    assert (status, body) == (504, '{"error":"Gateway timeout"}')
    # The loop was stopped, not left to burn the worker's CPU in a thread of its own.
    before = read_cpu_seconds(pid)
    time.sleep(1.0)
    assert read_cpu_seconds(pid) - before < 0.5
    status, _, again = fetch(url + "/fast")
    assert (status, again) == (200, fast_body)  # the same worker process
    assert "workflows still running after 1s on GET /spin; interrupted, answered 504" in log_path.read_text()


@pytest.mark.timeout(90)
def test_a_gthread_worker_stuck_in_a_sleep_past_the_deadline_is_recycled(
    one_gthread_worker: tuple[str, Path],
) -> None:
    url, log_path = one_gthread_worker
    _, _, fast_body = fetch(url + "/fast")
    pid = json.loads(fast_body)["pid"]
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        fetch(url + "/slow")  # the worker goes away with the stuck request: its connection is closed
    log = log_path.read_text()
    assert f"worker {pid}: thread " in log and " past its deadline; recycling the worker" in log
    status, _, body = fetch(url + "/fast")  # a new worker answers
    assert status == 200 and json.loads(body)["pid"] != pid
