"""`run_with_deadline`: the per-request deadline workflows run under, always in the caller's thread."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from epctl.runtime import deadline
from epctl.runtime.deadline import DeadlinePassed, Outcome, run_with_deadline, set_stuck_handler

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")
T = TypeVar("T")


def in_a_thread(call: Callable[[], T]) -> T:
    """Return what `call` returns when run in a new thread (as under gthread workers), re-raising
    what escaped it."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(call())
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]
    return results[0]


def spin() -> None:
    while True:
        pass


# -- in any thread but the main one, or a main thread whose SIGALRM is taken: the watchdog ----------
# (pytest-timeout's default method owns SIGALRM, so the tests above the main-thread ones take this path
# in the main thread too.)
def test_the_work_runs_in_the_callers_thread_and_sees_its_context_variables() -> None:
    def call() -> tuple[Outcome[tuple[str, int]], int]:
        REQUEST_ID.set("r-42")
        outcome = run_with_deadline(lambda: (REQUEST_ID.get(), threading.get_ident()), 5)
        return outcome, threading.get_ident()

    outcome, caller = in_a_thread(call)
    assert (outcome.finished, outcome.value) == (True, ("r-42", caller))


def test_what_the_work_sets_in_its_context_stays_there() -> None:
    outcome = in_a_thread(lambda: (run_with_deadline(lambda: REQUEST_ID.set("inner"), 5), REQUEST_ID.get()))
    assert outcome[0].finished and outcome[1] == "none"


def test_system_exit_is_kept_as_the_error() -> None:
    def leave() -> None:
        raise SystemExit(3)

    outcome = in_a_thread(lambda: run_with_deadline(leave, 5))
    assert outcome.finished and isinstance(outcome.error, SystemExit)


def test_a_loop_past_the_deadline_is_interrupted_in_its_thread() -> None:
    outcome = in_a_thread(lambda: run_with_deadline(spin, 0.1))
    assert (outcome.finished, outcome.value, outcome.error) == (False, None, None)


def test_a_loop_is_interrupted_behind_except_exception_and_nothing_after_it_runs() -> None:
    reached: list[str] = []

    def loop_through() -> None:
        try:
            spin()
        except Exception:  # a workflow's catch-all does not swallow the deadline
            reached.append("caught")
        reached.append("after")

    outcome = in_a_thread(lambda: run_with_deadline(loop_through, 0.1))
    assert (outcome.finished, reached) == (False, [])


def test_a_sleep_past_the_deadline_is_interrupted_when_it_returns() -> None:
    reached: list[str] = []

    def sleep_then_work() -> None:
        time.sleep(0.5)  # one C call: Python delivers the interruption when it returns
        reached.append("after")

    outcome = in_a_thread(lambda: run_with_deadline(sleep_then_work, 0.1))
    assert (outcome.finished, reached) == (False, [])


def test_work_that_swallows_the_interruption_still_counts_as_past_its_deadline() -> None:
    def swallow() -> str:
        with contextlib.suppress(BaseException):
            spin()
        return "made it"

    outcome = in_a_thread(lambda: run_with_deadline(swallow, 0.1))
    assert (outcome.finished, outcome.value) == (False, None)


def test_calls_ending_as_their_deadline_passes_never_leak_the_interruption_to_the_caller() -> None:
    """The watchdog and the returning call race for each end; whoever wins, the interruption arrives
    inside `run_with_deadline` or not at all, never in the caller's code after it."""

    def race() -> list[bool]:
        finished = []
        for _ in range(40):
            outcome = run_with_deadline(lambda: time.sleep(0.05), 0.05)
            finished.append(outcome.finished)
            until = time.monotonic() + 0.06  # bytecode for a while: a stray exception would land here
            while time.monotonic() < until:
                pass
        return finished

    finished = in_a_thread(race)  # raises DeadlinePassed if one leaked
    assert len(finished) == 40


def test_the_next_call_in_the_same_thread_is_bounded_again() -> None:
    def twice() -> tuple[Outcome[None], Outcome[int], Outcome[None]]:
        return run_with_deadline(spin, 0.1), run_with_deadline(lambda: 42, 5), run_with_deadline(spin, 0.1)

    first, second, third = in_a_thread(twice)
    assert (first.finished, second.finished, second.value, third.finished) == (False, True, 42, False)


def test_a_thread_stuck_in_a_call_past_the_grace_period_is_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(deadline, "GRACE", 0.2)
    stuck: list[tuple[str, float]] = []
    set_stuck_handler(lambda name, late: stuck.append((name, late)))
    try:
        with caplog.at_level(logging.ERROR, logger="epctl.runtime"):
            outcome = in_a_thread(lambda: run_with_deadline(lambda: time.sleep(1.0), 0.05))
    finally:
        set_stuck_handler(None)
    assert outcome.finished is False
    assert [name.startswith("Thread-") and late >= 0.2 for name, late in stuck] == [True]
    assert (
        "s after its deadline, in a call that cannot be interrupted (a sleep, or a socket read without "
        "a timeout); give such calls a timeout" in caplog.text
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_process_has_a_watchdog_of_its_own() -> None:
    in_a_thread(lambda: run_with_deadline(lambda: None, 5))  # the parent's watchdog runs
    pid = os.fork()
    if pid == 0:  # the child: exit 0 when its loop was interrupted
        outcome = in_a_thread(lambda: run_with_deadline(spin, 0.1))
        os._exit(0 if outcome.finished is False else 1)
    until = time.monotonic() + 30
    while time.monotonic() < until:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    pytest.fail("the forked child's loop was never interrupted")


# -- in the main thread, with SIGALRM free (pytest-timeout's thread method leaves it alone) ----------
@pytest.mark.timeout(30, method="thread")
def test_work_in_the_main_thread_runs_there_and_sees_the_callers_context() -> None:
    REQUEST_ID.set("r-7")
    outcome = run_with_deadline(lambda: (REQUEST_ID.get(), threading.get_ident()), 5)
    assert (outcome.finished, outcome.value) == (True, ("r-7", threading.get_ident()))


@pytest.mark.timeout(30, method="thread")
def test_work_in_the_main_thread_is_interrupted_where_it_sleeps_even_behind_except_exception() -> None:
    reached: list[str] = []

    def sleep_through() -> None:
        try:
            time.sleep(5)
        except Exception:  # a workflow's catch-all does not swallow the deadline
            reached.append("caught")
        reached.append("after")

    outcome = run_with_deadline(sleep_through, 0.05)
    assert (outcome.finished, reached) == (False, [])
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no timer left behind
    again = run_with_deadline(lambda: 42, 5)  # and the next call is bounded again
    assert (again.finished, again.value) == (True, 42)


@pytest.mark.timeout(30, method="thread")
def test_system_exit_in_the_main_thread_is_kept_as_the_error() -> None:
    def leave() -> None:
        raise SystemExit(3)

    outcome = run_with_deadline(leave, 5)
    assert outcome.finished and isinstance(outcome.error, SystemExit)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.timeout(30, method="thread")
def test_a_sigalrm_handler_of_the_application_is_left_alone_and_the_watchdog_bounds_the_work() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, _frame: fired.append(signum))
    try:
        outcome = run_with_deadline(spin, 0.1)
        assert outcome.finished is False  # interrupted all the same
        assert (signal.getitimer(signal.ITIMER_REAL), fired) == ((0.0, 0.0), [])
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_deadline_passed_is_not_an_exception_a_workflow_catches() -> None:
    assert not issubclass(DeadlinePassed, Exception)
