"""`epctl serve --workers N`: gunicorn with its threaded worker, epctl's log format and hooks, and a
reload on SIGHUP that can be refused.

gunicorn's own access line is off: the app writes one (gunicorn cannot know the endpoint, route or
user), so a request has one line, not two. README "Operations" describes what a SIGHUP does.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from gunicorn._types import _WSGIAppType

    from epctl.runtime.observability.gunicorn_hooks import ObservedServer

# gunicorn's threaded worker: a slow or idle client holds one thread of a worker, never the worker
# (with sync workers two clients dripping header bytes take two workers for the whole timeout). Idle
# kept-alive connections wait in the worker's poller, not in a thread, for KEEPALIVE_SECONDS; gunicorn
# gives a new connection a few seconds to send its first bytes before it goes back to the poller.
WORKER_CLASS = "gthread"
THREADS_PER_WORKER = 8
KEEPALIVE_SECONDS = 5
# Added to `request_timeout` for gunicorn's worker timeout: the app answers 504 first (see deadline.py);
# gunicorn's restart of a worker whose main loop stopped answering is the backstop.
WORKER_TIMEOUT_GRACE = 5


def serve_gunicorn(
    load: Callable[[], WSGIApplication],
    host: str,
    port: int,
    workers: int,
    *,
    observed: ObservedServer,
    preload: bool = True,
    refresh: Callable[[], bool] | None = None,
    request_timeout: float = 30.0,
) -> None:
    """Serve the app `load` returns with gunicorn's gthread worker and `workers` worker processes
    until gunicorn stops.

    `preload`: `load` runs once in this process before the workers fork, so every worker serves
    exactly the same build; otherwise each worker runs it when it boots (the workers a SIGHUP starts
    build afresh). `refresh` runs in this process on SIGHUP before any worker is replaced: False
    refuses the reload, and the old workers keep serving. `observed` gives gunicorn's logger (one log
    format, no access line of its own), the hooks of the admin listener and of the metrics directory.
    The worker timeout is `request_timeout` plus a grace period. Logs go to stderr (stdout is for data).
    """
    # Imported here: gunicorn pulls in its arbiter and workers, which `serve` without --workers never needs.
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

    class EpctlArbiter(Arbiter):
        def reload(self) -> None:
            if refresh is None or refresh():
                super().reload()

    class EpctlGunicorn(BaseApplication):
        def load_config(self) -> None:
            settings: dict[str, object] = {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "workers": workers,
                "errorlog": "-",
                "preload_app": preload,
                "worker_class": WORKER_CLASS,
                "threads": THREADS_PER_WORKER,
                "keepalive": KEEPALIVE_SECONDS,
                "timeout": math.ceil(request_timeout) + WORKER_TIMEOUT_GRACE,
                **observed.settings(),
            }
            # gunicorn >= 25.1 opens a control socket at one fixed path per user: a second server on
            # the host would take it over. epctl does not use `gunicornc`, so it is switched off.
            if "control_socket_disable" in self.cfg.settings:
                settings["control_socket_disable"] = True
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> _WSGIAppType:
            # gunicorn's stubs type the environ as a MutableMapping; PEP 3333 (and typeshed) a dict.
            return cast("_WSGIAppType", load())

        def run(self) -> None:
            # BaseApplication.run with the arbiter that asks `refresh` before a reload.
            try:
                EpctlArbiter(self).run()
            except RuntimeError as err:
                print(f"\nError: {err}\n", file=sys.stderr)
                sys.exit(1)

    EpctlGunicorn().run()
