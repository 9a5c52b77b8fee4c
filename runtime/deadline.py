"""A per-request deadline for workflow code: `[settings] request_timeout` (README "Reliability").

Python cannot stop a thread, so the deadline takes one of two forms, chosen per call:

- In the main thread (gunicorn's sync workers, the test client, `epctl test`, a bench), the work runs
  right there under a one-shot `SIGALRM` timer: when it fires, `DeadlinePassed` is raised inside the
  work (it interrupts `time.sleep`, lock and socket waits, not a long computation inside one C call).
  No thread is started, which keeps the common request as cheap as the app itself.
- In any other thread (gunicorn's gthread workers, the development server), or when something else
  owns `SIGALRM`, the work is handed to a reused worker thread and the request waits for it at most
  the deadline. Work still running then is abandoned: the caller gets 504 and the thread runs on,
  unobserved, until the work returns, after which it serves other requests again.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C half of `signal`, untyped
import _thread
import contextvars
import signal
import threading
from collections.abc import Callable
from queue import Empty, SimpleQueue
from threading import get_ident
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_HAS_TIMER = hasattr(signal, "setitimer")  # not on Windows
# A worker thread with nothing to do for this long ends; the next request starts a new one.
IDLE_SECONDS = 60.0


class DeadlinePassed(BaseException):
    """Raised inside work running in the main thread when its deadline passes.

    A BaseException, so the `except Exception` a workflow writes does not swallow it.
    """


class Outcome(Generic[T]):
    """What a deadline-bound call gave: `finished` and its `value`, or `finished` False when the
    deadline passed first; `interrupted` then says whether the work was stopped (main thread) rather
    than abandoned to run on."""

    __slots__ = ("error", "finished", "interrupted", "value")

    def __init__(self, *, interrupted: bool = False) -> None:
        self.finished = False
        self.interrupted = interrupted
        self.value: T | None = None
        self.error: BaseException | None = None


def run_with_deadline(function: Callable[[], T], seconds: float, *, name: str) -> Outcome[T]:
    """Return the outcome of `function()`, given at most `seconds`; `name` names the thread that runs
    it when it cannot run in the caller's.

    `function` runs in a copy of the caller's context (contextvars), so what it sets does not leak
    into the caller's. What it raises (even SystemExit or KeyboardInterrupt) is kept in `error`; the
    caller decides what it means.
    """
    context = contextvars.copy_context()
    if _ALARM.usable():
        return _ALARM.run(context, function, seconds)
    return _WORKERS.run(context, function, seconds, name)


class _Alarm:
    """The one-shot `SIGALRM` timer that bounds work run in the main thread."""

    def __init__(self) -> None:
        self.armed = False
        self.handler = self.fire  # one bound method, so the check below compares like with like

    def usable(self) -> bool:
        """Return whether this call can use the timer: the main thread, a platform with `setitimer`,
        and `SIGALRM` not claimed by anything else (its handler is ours or the default one)."""
        if self.armed or not _HAS_TIMER or get_ident() != threading.main_thread().ident:
            return False
        # `_signal.getsignal` returns the handler as set; `signal.getsignal` turns it into an enum
        # first, which costs more than the rest of the check together. `==`: a restored default
        # may come back as the int 0 rather than `SIG_DFL`.
        handler = _signal.getsignal(signal.SIGALRM)
        if handler is self.handler:
            return True
        if handler != signal.SIG_DFL:
            return False
        # The default action of SIGALRM ends the process, so nobody relies on it: safe to take over
        # (again, when something that borrowed it restored the default).
        signal.signal(signal.SIGALRM, self.handler)
        return True

    def fire(self, _signum: int, _frame: object) -> None:
        # One shot: a late signal (the work returned just as the timer fired) raises nothing.
        if self.armed:
            self.armed = False
            raise DeadlinePassed

    def run(self, context: contextvars.Context, function: Callable[[], T], seconds: float) -> Outcome[T]:
        outcome: Outcome[T] = Outcome()
        try:
            try:
                self.armed = True
                signal.setitimer(signal.ITIMER_REAL, seconds)
                outcome.value = context.run(function)
            finally:
                # `armed` first: from here on a signal raises nothing, so this block always completes.
                self.armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except DeadlinePassed:
            return Outcome(interrupted=True)
        except BaseException as err:
            outcome.error = err
        outcome.finished = True
        return outcome


class _Job(Generic[T]):
    """One call handed to a worker thread; `done` is released when it has returned or raised."""

    __slots__ = ("context", "done", "function", "name", "outcome")

    def __init__(self, context: contextvars.Context, function: Callable[[], T], name: str) -> None:
        self.context = context
        self.function = function
        self.name = name
        self.outcome: Outcome[T] = Outcome()
        self.done = _thread.allocate_lock()
        self.done.acquire()

    def run(self) -> None:
        try:
            self.outcome.value = self.context.run(self.function)
        except BaseException as err:
            self.outcome.error = err
        self.outcome.finished = True
        self.done.release()


class _Workers:
    """Reused daemon threads: an idle one takes the next job, else a new one starts. A thread whose
    job outlived its deadline serves again once the job returns; one idle for IDLE_SECONDS ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[SimpleQueue[_Job[Any]]] = []

    def run(
        self, context: contextvars.Context, function: Callable[[], T], seconds: float, name: str
    ) -> Outcome[T]:
        job = _Job(context, function, name)
        with self.lock:
            inbox = self.idle.pop() if self.idle else None
        if inbox is None:
            inbox = SimpleQueue()
            threading.Thread(target=self.serve, args=(inbox,), name=name, daemon=True).start()
        inbox.put(job)
        if job.done.acquire(timeout=seconds):
            return job.outcome
        # `finished` may turn True right after the wait: reading it again would race; the deadline passed.
        return Outcome()

    def serve(self, inbox: SimpleQueue[_Job[Any]]) -> None:
        thread = threading.current_thread()
        while True:
            try:
                job = inbox.get(timeout=IDLE_SECONDS)
            except Empty:
                with self.lock:
                    if inbox not in self.idle:
                        continue  # a job was handed to this thread just now: take it
                    self.idle.remove(inbox)
                return
            thread.name = job.name
            job.run()
            with self.lock:
                self.idle.append(inbox)


_ALARM = _Alarm()
_WORKERS = _Workers()
