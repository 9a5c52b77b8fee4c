"""`run_with_deadline`: the per-request deadline workflows run under."""

from __future__ import annotations

import contextvars
import signal
import threading
import time

import pytest

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


def test_a_thread_whose_work_returned_serves_the_next_call() -> None:
    first = run_with_deadline(threading.get_ident, 5, name="t")
    second = run_with_deadline(threading.get_ident, 5, name="t")
    assert first.finished and second.finished
    assert first.value == second.value != threading.get_ident()


def test_an_abandoned_thread_serves_again_once_its_work_returns() -> None:
    release = threading.Event()
    abandoned = run_with_deadline(lambda: (release.wait(5), threading.get_ident())[1], 0.05, name="t")
    busy = run_with_deadline(threading.get_ident, 5, name="t")  # the first thread is still held
    release.set()
    time.sleep(0.2)  # the held thread returns and goes back to the idle ones
    again = [run_with_deadline(threading.get_ident, 5, name="t").value for _ in range(2)]
    assert abandoned.finished is False and busy.finished
    assert len(set(again)) == 1  # one idle thread takes every call in turn


# -- in the main thread, with SIGALRM free (pytest-timeout's thread method leaves it alone) ----------
@pytest.mark.timeout(30, method="thread")
def test_work_in_the_main_thread_runs_there_and_sees_the_callers_context() -> None:
    REQUEST_ID.set("r-7")
    outcome = run_with_deadline(lambda: (REQUEST_ID.get(), threading.get_ident()), 5, name="t")
    assert (outcome.finished, outcome.value) == (True, ("r-7", threading.get_ident()))


@pytest.mark.timeout(30, method="thread")
def test_work_in_the_main_thread_is_interrupted_at_the_deadline_even_behind_except_exception() -> None:
    reached: list[str] = []

    def sleep_through() -> None:
        try:
            time.sleep(5)
        except Exception:  # a workflow's catch-all does not swallow the deadline
            reached.append("caught")
        reached.append("after")

    outcome = run_with_deadline(sleep_through, 0.05, name="t")
    assert (outcome.finished, outcome.interrupted, reached) == (False, True, [])
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no timer left behind
    again = run_with_deadline(lambda: 42, 5, name="t")  # and the next call is bounded again
    assert (again.finished, again.value) == (True, 42)


@pytest.mark.timeout(30, method="thread")
def test_system_exit_in_the_main_thread_is_kept_as_the_error() -> None:
    def leave() -> None:
        raise SystemExit(3)

    outcome = run_with_deadline(leave, 5, name="t")
    assert outcome.finished and isinstance(outcome.error, SystemExit)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.timeout(30, method="thread")
def test_a_sigalrm_handler_of_the_application_is_left_alone() -> None:
    def own(_signum: int, _frame: object) -> None:
        return None

    previous = signal.signal(signal.SIGALRM, own)
    try:
        outcome = run_with_deadline(threading.get_ident, 5, name="t")
        assert outcome.value != threading.get_ident()  # handed to a thread instead
        assert signal.getsignal(signal.SIGALRM) is own
    finally:
        signal.signal(signal.SIGALRM, previous)
