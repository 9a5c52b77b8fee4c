"""What observability holds in memory and writes from one thread per process, every FLUSH_SECONDS:
the metrics' sums under several processes (`Metrics`) and the access lines written to a file or a
pipe (`AccessLog`).

A request adds to memory under a lock, with no file write or system call of its own; the thread
writes what was added. A process that exits normally (a gunicorn worker stopping or recycled, on
SIGHUP too) writes what it holds first; one killed outright (SIGKILL, the OOM killer) loses its last
tenth of a second. A forked child starts with nothing held: what its parent held is the parent's to
write.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from typing import Protocol

# How often the thread writes what is held: a scrape or a reader of the log may miss the last tenth
# of a second.
FLUSH_SECONDS = 0.1


class Buffer(Protocol):
    """Something that holds what requests added until the flusher writes it."""

    def flush(self) -> None:
        """Write what is held. Never raises: a failure is the buffer's to report."""

    def forget(self) -> None:
        """In a forked child: drop what the parent held, and take new locks (the parent's threads may
        have held one as it forked)."""


class Flusher:
    """The thread of this process that flushes every registered `Buffer`, started by the first buffer
    that holds something (`start`)."""

    def __init__(self) -> None:
        # Weak: an app replaced by a rebuilt one (develop reloading) takes its buffers along. Plain
        # references rather than a WeakSet, whose iteration cost a flush a fifth of its work.
        self.buffers: list[weakref.ref[Buffer]] = []
        self.reset()

    def register(self, buffer: Buffer) -> None:
        """Flush `buffer` from now on, for as long as it lives."""
        with self.lock:
            self.buffers = [*(ref for ref in self.buffers if ref() is not None), weakref.ref(buffer)]

    def alive(self) -> list[Buffer]:
        """Return the registered buffers still in use."""
        return [buffer for ref in self.buffers if (buffer := ref()) is not None]

    def reset(self) -> None:
        """Start again without a thread and with a new lock; every buffer forgets what it held."""
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        for buffer in self.alive():
            buffer.forget()

    def start(self) -> None:
        """Start the thread unless it runs."""
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="epctl-flush", daemon=True)
                self.thread.start()

    def run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Write what every buffer holds."""
        for buffer in self.alive():
            buffer.flush()


FLUSHER = Flusher()
os.register_at_fork(after_in_child=FLUSHER.reset)
atexit.register(FLUSHER.flush)
