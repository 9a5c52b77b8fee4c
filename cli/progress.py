"""A progress bar for long work, shown only to a person watching a terminal.

It appears after a second of work (short commands never flash one), pulses with the elapsed time
(the work reports no steps), and disappears when the work ends. On a pipe, a file or in CI (stderr
not a terminal) nothing is drawn at all, so logs and machine-read output stay clean.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from epctl.cli.output import stderr

DELAY = 1.0  # seconds of work before the bar appears
# EPCTL_PROGRESS_DELAY=0 shows the bar at once (and a large value never): for slow terminals and tests.
DELAY_VARIABLE = "EPCTL_PROGRESS_DELAY"


def read_delay() -> float:
    """Return the seconds of work before the bar appears: EPCTL_PROGRESS_DELAY, else DELAY."""
    try:
        return max(0.0, float(os.environ.get(DELAY_VARIABLE, DELAY)))
    except ValueError:
        return DELAY


@contextmanager
def progress_after(
    description: str, *, console: Console | None = None, delay: float | None = None
) -> Iterator[None]:
    """Show a progress bar on `console` (stderr) while the body runs, from `delay` seconds on (default:
    `read_delay()`), and only when that console is a terminal."""
    console = console or stderr
    delay = read_delay() if delay is None else delay
    if not console.is_terminal:
        yield
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    lock = threading.Lock()
    state = {"started": False, "finished": False}

    def start() -> None:
        with lock:
            if not state["finished"]:
                progress.add_task(description, total=None)
                progress.start()
                state["started"] = True

    timer = threading.Timer(delay, start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["finished"] = True
            if state["started"]:
                progress.stop()
