"""This process's id, kept current across forks by a fork hook rather than asked of the system (a
system call) each time: per-request code asks for it (the metrics' files).

gunicorn forks its workers from the process that built the app, so anything set up per process has
to notice that it now runs in another one.
"""

from __future__ import annotations

import os

_pid = [os.getpid()]


def _refresh_pid() -> None:
    _pid[0] = os.getpid()


os.register_at_fork(after_in_child=_refresh_pid)


def current_pid() -> int:
    """Return this process's id (what `os.getpid()` returns, without the system call)."""
    return _pid[0]
