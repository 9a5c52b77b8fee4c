"""What `/readyz` of the admin listener checks, beyond the app being built.

A server starts its admin listener only once its app is built (under gunicorn, readiness also waits
for a worker to announce its version), so what is left to check is what the app needs outside itself:
the users database of an app with `[users]`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from epctl.runtime.app import EpctlApp

Readiness = Callable[[], bool]

log = logging.getLogger("epctl.runtime")


def create_readiness(*checks: Readiness) -> Readiness:
    """Return the readiness check of a server whose app is built: True when every one of `checks`
    says True (no checks: always True)."""

    def ready() -> bool:
        return all(check() for check in checks)

    return ready


def users_database_answers(apps: Iterable[EpctlApp]) -> Readiness:
    """Return a readiness check: True when the users database of every app in `apps` with `[users]`
    answers a `SELECT 1` (within the connect timeout of README "Users"). Apps without users make no
    check at all."""
    sessions = [app.sessions for app in apps if app.sessions is not None]

    def ready() -> bool:
        for each in sessions:
            try:
                with each.store.engine.connect() as connection:
                    connection.exec_driver_sql("SELECT 1")
            except Exception as err:
                # Not ready is the answer; the reason is for the operator reading the log.
                log.warning("not ready: the users database does not answer (%s)", err)
                return False
        return True

    return ready
