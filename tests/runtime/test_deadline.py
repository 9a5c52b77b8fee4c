"""`run_with_deadline`: the per-request deadline workflows run under."""

from __future__ import annotations

import contextvars
import threading

from epctl.runtime.deadline import run_with_deadline

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def test_the_work_sees_the_callers_context_variables() -> None:
    REQUEST_ID.set("r-42")
    outcome = run_with_deadline(REQUEST_ID.get, 5, name="t")
    assert (outcome.finished, outcome.value) == (True, "r-42")


def test_system_exit_is_kept_as_the_error_not_lost_with_the_thread() -> None:
    def leave() -> None:
        raise SystemExit(3)

    outcome = run_with_deadline(leave, 5, name="t")
    assert outcome.finished and isinstance(outcome.error, SystemExit)


def test_work_still_running_at_the_deadline_is_abandoned() -> None:
    release = threading.Event()
    outcome = run_with_deadline(lambda: release.wait(5), 0.05, name="t")
    release.set()  # let the abandoned thread end
    assert (outcome.finished, outcome.value) == (False, None)
