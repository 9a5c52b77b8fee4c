"""A per-request deadline for workflow code: `[settings] request_timeout` (README "Reliability").

The work runs in the caller's own thread (a hand-off to another thread and back cost more than a
whole request), and one watchdog thread per process interrupts it within `TICK` seconds of its
deadline by raising `DeadlinePassed` in that thread, in one of two ways:

- In the main thread (gunicorn's sync workers, the test client, `epctl test`), with `SIGALRM` free:
  it sends the thread `SIGALRM`, whose handler raises. A signal interrupts the work wherever it is,
  waits included (`time.sleep`, lock and socket waits); not inside one long C call.
- In any other thread (gunicorn's gthread workers, the development server's threads), or a main
  thread whose application owns `SIGALRM`: an asynchronous exception (`PyThreadState_SetAsyncExc`),
  which Python delivers at the thread's next bytecode. A loop is stopped at once, a blocking call (a
  sleep, a socket read without a timeout) when it returns. A thread still inside one `GRACE` seconds
  later is reported to the stuck handler: logged, and under gunicorn the worker is recycled, as
  gunicorn's sync workers are past their timeout.

Either way the work is interrupted, not abandoned: nothing it does after the deadline is kept, and
the thread is the request's own again. Per call this costs a few dictionary operations: no system
call, no timer, no thread.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C half of `signal`, untyped
import contextvars
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from threading import get_ident
from typing import Any, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger("epctl.runtime")

_CAN_SIGNAL_THREADS = hasattr(signal, "pthread_kill") and hasattr(signal, "SIGALRM")  # not on Windows
# How often the watchdog looks at the running calls: a call is interrupted at most this late.
TICK = 0.05
# A thread not back this long after its interruption is stuck in a call Python cannot interrupt.
GRACE = 5.0


class DeadlinePassed(BaseException):
    """Raised inside work when its deadline passes.

    A BaseException, so the `except Exception` a workflow writes does not swallow it.
    """


class Outcome(Generic[T]):
    """What a deadline-bound call gave: `finished` and its `value` (or the `error` it raised), or
    `finished` False when the deadline passed first and the work was interrupted.

    While the call runs it is also the watchdog's record of it: the thread running it and when it must
    end. One object per call, as a request pays for each one built.
    """

    __slots__ = ("by_signal", "deadline", "error", "finished", "name", "returned", "sent", "thread", "value")

    def __init__(self, thread: int, deadline: float) -> None:
        self.finished = False
        self.value: T | None = None
        self.error: BaseException | None = None
        self.thread = thread
        self.deadline = deadline
        # How the watchdog interrupts it: SIGALRM, else an asynchronous exception.
        self.by_signal = thread == _MAIN_THREAD[0] and _ALARM.usable()
        self.name = ""  # the thread's name, read by the watchdog when it interrupts the call
        self.sent = False  # the watchdog has raised DeadlinePassed in the thread
        self.returned = False  # the interrupted thread is out of the call

    def interrupted(self) -> Outcome[T]:
        """Return this outcome as the deadline left it: not finished, nothing kept."""
        self.value = None
        self.error = None
        return self


def run_with_deadline(function: Callable[[], T], seconds: float) -> Outcome[T]:
    """Return the outcome of `function()` run in this thread, interrupted after `seconds`.

    `function` runs in a copy of the caller's context (contextvars), so what it sets does not leak
    into the caller's. What it raises (even SystemExit or KeyboardInterrupt) is kept in `error`; the
    caller decides what it means.
    """
    return _WATCHDOG.run(contextvars.copy_context(), function, seconds)


def set_stuck_handler(handler: Callable[[str, float], None] | None) -> None:
    """Call `handler(thread name, seconds past the deadline)` for each thread still inside its work
    `GRACE` seconds after being interrupted (None: only log it). A gunicorn worker sets one that
    recycles the worker: its other requests finish, and a new worker takes its place."""
    _WATCHDOG.on_stuck = handler


class _Alarm:
    """`SIGALRM` as the watchdog's way into the main thread."""

    def __init__(self) -> None:
        self.pending = False  # the watchdog sent SIGALRM for a call it took
        self.handler = self.fire  # one bound method, so the check below compares like with like

    def usable(self) -> bool:
        """Return whether `SIGALRM` can interrupt a call in the main thread: a platform that can signal
        a thread, and `SIGALRM` not claimed by anything else (its handler is ours or the default one)."""
        if not _CAN_SIGNAL_THREADS:
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
        # Only for a call the watchdog took: a SIGALRM from anywhere else raises nothing.
        if self.pending:
            self.pending = False
            raise DeadlinePassed


class _Watchdog:
    """One daemon thread per process that interrupts calls past their deadline.

    A running call is an entry of `running`. Whoever removes it first owns its end: the thread
    (its call returned in time) or the watchdog (the deadline passed, so it raises `DeadlinePassed`
    in the thread). `dict.pop` is atomic, so an exception is never raised in a thread whose call has
    already returned, where it would land in code that does not expect it.
    """

    def __init__(self) -> None:
        self.running: dict[Outcome[Any], None] = {}
        self.started = False  # in this process: a forked child starts its own (`forget`)
        self.start_lock = threading.Lock()
        self.on_stuck: Callable[[str, float], None] | None = None

    def run(self, context: contextvars.Context, function: Callable[[], T], seconds: float) -> Outcome[T]:
        if not self.started:
            self.start()
        watch: Outcome[T] = Outcome(get_ident(), time.monotonic() + seconds)
        self.running[watch] = None
        try:
            try:
                watch.value = context.run(function)
            except DeadlinePassed:
                raise
            except BaseException as err:
                watch.error = err
            if self.running.pop(watch, _TAKEN) is _TAKEN:
                # The watchdog took the call as the work returned: its exception is on its way (or
                # was swallowed by the work). Receive it here, not in the caller's code.
                self.receive(watch)
                return watch.interrupted()
        except DeadlinePassed:
            watch.returned = True
            return watch.interrupted()
        watch.finished = True
        return watch

    @staticmethod
    def receive(watch: Outcome[Any]) -> None:
        """Wait (briefly) until the watchdog has raised the exception in this thread (or sent the
        signal), and let it arrive."""
        give_up = time.monotonic() + GRACE
        while not watch.sent and time.monotonic() < give_up:
            time.sleep(0.0001)
        _arrive()  # a call: Python runs signal handlers and raises asynchronous exceptions on entering it
        watch.returned = True  # the work had swallowed it

    def start(self) -> None:
        with self.start_lock:
            if self.started:
                return
            self.running.clear()  # calls of the parent process: not ours to interrupt
            threading.Thread(target=self.watch, name="epctl-deadline", daemon=True).start()
            self.started = True

    def forget(self) -> None:
        """In a forked child: no watchdog thread yet (the next call starts one), and a new lock (a
        thread of the parent may have held it as it forked)."""
        self.started = False
        self.start_lock = threading.Lock()

    def watch(self) -> None:
        interrupted: list[Outcome[Any]] = []
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            for watch in self.running.copy():  # a copy: request threads change it
                if watch.deadline <= now and self.running.pop(watch, _TAKEN) is not _TAKEN:
                    watch.name = _thread_name(watch.thread)
                    if watch.by_signal:
                        _ALARM.pending = True
                        signal.pthread_kill(watch.thread, signal.SIGALRM)
                    else:
                        _raise_in_thread(watch.thread, DeadlinePassed)
                    watch.sent = True
                    interrupted.append(watch)
            if interrupted:
                interrupted = [watch for watch in interrupted if not self.report_stuck(watch, now)]

    def report_stuck(self, watch: Outcome[Any], now: float) -> bool:
        """Report `watch` if its thread is stuck; return whether it needs watching no more."""
        if watch.returned:
            return True
        late = now - watch.deadline
        if late < GRACE:
            return False
        log.error(
            "thread %s is still inside a workflow %.1fs after its deadline, in a call that cannot be "
            "interrupted (a sleep, or a socket read without a timeout); give such calls a timeout",
            watch.name,
            late,
        )
        handler = self.on_stuck
        if handler is not None:
            try:
                handler(watch.name, late)
            except Exception:  # the watchdog must live on: every later deadline depends on it
                log.exception("handling thread %s stuck past its deadline failed", watch.name)
        return True


def _arrive() -> None:
    """Nothing: calling it gives Python a place to deliver a pending asynchronous exception."""


def _thread_name(ident: int) -> str:
    for thread in threading.enumerate():
        if thread.ident == ident:
            return thread.name
    return str(ident)


def _raise_in_thread(ident: int, error: type[BaseException]) -> None:
    import ctypes  # here: only a process serving from threads needs it

    # The C API Python's own tools use for this; the GIL is held across the call (pythonapi is a
    # PyDLL), and a thread that no longer exists is simply not found.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(error))


# What `dict.pop` returns for a call no longer in `running`: the other side took it.
_TAKEN = object()

# The main thread's id, kept current by a fork hook: after a fork, the thread that forked is the
# child's main thread.
_MAIN_THREAD = [threading.main_thread().ident]


def _reset_main_thread() -> None:
    _MAIN_THREAD[0] = get_ident()


os.register_at_fork(after_in_child=_reset_main_thread)

_ALARM = _Alarm()
_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG.forget)
