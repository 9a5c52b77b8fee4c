"""End to end: the request deadline under gunicorn's default sync workers (README "Reliability").

A sync worker runs each request in its main thread, where the deadline is a SIGALRM timer: the
workflow is interrupted, the caller gets 504, and the same worker serves the next request at once.
"""

from __future__ import annotations

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
    (sample / "endpoints" / "slow.toml").write_text(SLOW_ENDPOINT + FAST_ENDPOINT)
    (sample / "workflows" / "slow.toml").write_text(SLOW_WORKFLOW + FAST_WORKFLOW)
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
