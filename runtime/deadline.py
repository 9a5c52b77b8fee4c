"""A per-request deadline for workflow code: `[settings] request_timeout` (README "Reliability").

Python cannot stop a thread, so the workflows of a request run in a thread of their own and the
request waits for it at most the deadline. A workflow still running then is abandoned: the caller
gets 504 and the thread runs on, unobserved, until it returns. This works the same on the
development server, under gunicorn's sync and gthread workers, and under any WSGI server that calls
`create_app`.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Outcome(Generic[T]):
    """What a deadline-bound call gave: `finished` and its `value`, or `finished` False when the
    deadline passed first."""

    __slots__ = ("error", "finished", "value")

    def __init__(self) -> None:
        self.finished = False
        self.value: T | None = None
        self.error: BaseException | None = None


def run_with_deadline(function: Callable[[], T], seconds: float, *, name: str) -> Outcome[T]:
    """Return the outcome of `function()` run in a daemon thread named `name`, waiting `seconds`.

    `function` runs in a copy of the caller's context (contextvars). What it raises (even
    SystemExit or KeyboardInterrupt, which would otherwise end the thread silently) is kept in
    `error`; the caller decides what it means.
    """
    outcome: Outcome[T] = Outcome()
    # The caller's context variables (a request id a logging middleware set) follow the work.
    context = contextvars.copy_context()

    def run() -> None:
        try:
            outcome.value = context.run(function)
        except BaseException as err:
            outcome.error = err
        outcome.finished = True

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        # `finished` may turn True right after the join: reading it again would race; the deadline passed.
        abandoned: Outcome[T] = Outcome()
        return abandoned
    return outcome
