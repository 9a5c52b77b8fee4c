"""What `/readyz` of the admin listener checks, beyond the app being built.

A server starts its admin listener only once its app is built (under gunicorn, readiness also waits
for a worker to announce its version), so what is left to check is what the app needs outside itself.
"""

from __future__ import annotations

from collections.abc import Callable

Readiness = Callable[[], bool]


def create_readiness(*checks: Readiness) -> Readiness:
    """Return the readiness check of a server whose app is built: True when `check_users_database`
    and every one of `checks` say True."""

    def ready() -> bool:
        return check_users_database() and all(check() for check in checks)

    return ready


def check_users_database() -> bool:
    """Readiness hook for `[users]`: True when the project's users database answers.

    Projects do not declare `[users]` on this branch yet, so there is no database to ask and this is
    True. Where `[users]` is on, this is the place to open a connection and run `SELECT 1` (with a
    short timeout), so `/readyz` answers 503 while the database is unreachable.
    """
    return True
