"""Gunicorn's side of observability: metrics summed over the workers, the admin listener in the
master, and one log format for gunicorn's lines and epctl's.

`ObservedServer` holds the master's state and its gunicorn hooks; `settings()` returns them with the
logger class, for `epctl serve --workers` to set on its gunicorn config, and `gunicorn_config` builds
one from environment variables for a gunicorn started by hand. Importing this module does nothing.

- `when_ready` (master, once): start the admin listener, serving the metrics of every worker.
- `post_fork` (each new worker): close the worker's copy of the admin socket.
- `post_worker_init` (each worker, its app loaded): an epctl app that is not observed yet (gunicorn
  run by hand on `create_app(...)`) is wrapped as `epctl serve` wraps it: access lines, and metrics
  when there is a metrics directory. And a request thread stuck past its deadline in a call Python
  cannot interrupt recycles the worker (`recycle_worker`), and what the worker has loaded is frozen
  out of the garbage collector's sight (`gc.freeze`).
- `child_exit` (master, a worker exited): drop that worker's live values from the metrics directory.
- `on_exit` (master, at shutdown): stop the admin listener, remove a metrics directory made for it.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from gunicorn.glogging import Logger

from epctl.runtime.deadline import set_stuck_handler
from epctl.runtime.observability.admin import (
    AdminServer,
    AdminServerError,
    Readiness,
    create_admin_app,
    start_admin_server,
)
from epctl.runtime.observability.context import RequestContextFilter
from epctl.runtime.observability.logs import LogFormat, choose_log_format, configure_logging, make_formatter
from epctl.runtime.observability.metrics import MetricsDirectory, create_registry, served_versions
from epctl.runtime.readiness import create_readiness

if TYPE_CHECKING:
    from gunicorn._types import _WSGIAppType
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker


class EpctlGunicornLogger(Logger):
    """gunicorn's logger with its error log in epctl's format, and no access log of its own: epctl's
    app writes the access line (gunicorn cannot know the endpoint, route or user), so a request has
    one line, not two. `log_format` None: text when stderr is a terminal, JSON otherwise."""

    log_format: LogFormat | None = None

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        log_format = self.log_format or choose_log_format(sys.stderr)
        formatter = make_formatter(log_format)
        stream = sys.stderr
        for handler in self.error_log.handlers:
            handler.setFormatter(formatter)
            handler.addFilter(RequestContextFilter())
            stream = getattr(handler, "stream", None) or stream
        # epctl's own records (workflow tracebacks) go where gunicorn's go: stderr, or --error-logfile.
        configure_logging(log_format, stream)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        pass


@dataclass
class ObservedServer:
    """The observability of one gunicorn server (its master process).

    `metrics_directory`: where the workers write their metrics (None: no metrics). `admin_port`: the
    admin listener's port (None: no listener; 0: any free port, logged). `ready`: the readiness check
    of `/readyz`; by default, ready once a live process announced the version it serves, which every
    app with metrics does once it is built.
    """

    metrics_directory: MetricsDirectory | None = None
    admin_port: int | None = None
    admin_host: str = "127.0.0.1"
    log_format: LogFormat | None = None
    ready: Readiness | None = None
    admin: AdminServer | None = None

    def settings(self) -> dict[str, object]:
        """Return the gunicorn settings of this server: hooks, logger class, and gunicorn's own access
        log off (epctl writes it)."""
        logger_class = type("EpctlGunicornLogger", (EpctlGunicornLogger,), {"log_format": self.log_format})
        return {
            "accesslog": None,
            "logger_class": logger_class,
            "when_ready": self.when_ready,
            "post_fork": self.post_fork,
            "post_worker_init": self.post_worker_init,
            "child_exit": self.child_exit,
            "on_exit": self.on_exit,
        }

    def when_ready(self, server: Arbiter) -> None:
        if self.admin_port is None:
            return
        directory = self.metrics_directory.path if self.metrics_directory is not None else None
        ready = self.ready or create_readiness(versions_announced(directory), *check_preloaded(server))
        try:
            self.admin = start_admin_server(
                create_admin_app(ready, metrics_directory=directory), self.admin_host, self.admin_port
            )
        except AdminServerError as err:
            # Serving goes on without the admin listener rather than stopping the site; said loudly.
            if server.log is not None:
                server.log.error("%s; serving without it", err)
            return
        if server.log is not None:
            server.log.info("Admin listening at: %s (/metrics, /livez, /readyz)", self.admin.url)

    def post_fork(self, server: Arbiter, worker: Worker) -> None:
        if self.admin is not None:
            self.admin.close_in_child()

    def post_worker_init(self, worker: Worker) -> None:
        # Imported here: the app (werkzeug, Jinja) is the worker's business, not the master's config.
        from epctl.runtime.app import EpctlApp
        from epctl.runtime.observed_apps import Observation, observe_app

        set_stuck_handler(partial(recycle_worker, worker))
        # What the worker holds now (the app, its modules) lives as long as it does: out of the cyclic
        # collector's sight, a full collection no longer walks it. That walk paused every thread of a
        # worker serving 10,000 endpoints for about 0.2 s. A worker that built the app itself first
        # drops what the build left behind (it would be kept for good); a preloaded one does not
        # collect: that would write to every object, copying the pages it shares with the master.
        if not worker.cfg.preload_app:
            gc.collect()
        gc.freeze()
        app: object = worker.wsgi  # typed as any WSGI callable; ours is an EpctlApp
        if isinstance(app, EpctlApp):
            log_format = self.log_format or choose_log_format(sys.stderr)
            # Metrics only where they are summed for a scrape: with the metrics directory.
            port = (self.admin_port or 0) if self.metrics_directory is not None else None
            # Access lines in batches: a worker writes what it holds as it exits.
            observation = Observation(log_format, port, buffered=True)
            observed = observe_app(app, observation, app.environment)
            # gunicorn's stubs type the environ as a MutableMapping; PEP 3333 (and typeshed) a dict.
            worker.wsgi = cast("_WSGIAppType", observed)

    def child_exit(self, server: Arbiter, worker: Worker) -> None:
        if self.metrics_directory is not None:
            # gunicorn's stubs type the pid as text; it is the worker's process id.
            self.metrics_directory.mark_process_dead(int(worker.pid))

    def on_exit(self, server: Arbiter) -> None:
        if self.admin is not None:
            self.admin.stop()
            self.admin = None
        if self.metrics_directory is not None:
            self.metrics_directory.remove()


def check_preloaded(server: Arbiter) -> list[Readiness]:
    """Return the readiness checks of the app gunicorn built in the master (`--preload`): its users
    database answers. Without `--preload` the master never holds the app, so nothing to add."""
    app = getattr(server.app, "callable", None)
    if app is None:
        return []
    # Imported here: only a master that already built the app (werkzeug, Jinja loaded) gets this far.
    from epctl.runtime.readiness import users_database_answers
    from epctl.runtime.servers import served_apps

    return [users_database_answers(served_apps(app))]


def recycle_worker(worker: Worker, thread: str, late: float) -> None:
    """Have `worker` exit as on SIGTERM, because its request thread `thread` is stuck `late` seconds
    past its deadline: the worker stops taking connections, its other requests finish, and the master
    starts a new worker (killing this one at its timeout if the stuck thread keeps it alive).

    Under gthread workers a stuck thread is one of the worker's threads gone for good; a handful of
    them and the worker answers nobody while it still looks alive to the master.
    """
    worker.log.error(
        "worker %s: thread %s stuck %.1fs past its deadline; recycling the worker", worker.pid, thread, late
    )
    os.kill(os.getpid(), signal.SIGTERM)


def versions_announced(directory: Path | None) -> Callable[[], bool]:
    """Return a readiness check: True once the metrics in `directory` show a version served by a live
    process (an app builds, then announces its version; a worker that exits takes its announcement
    along). Without a directory, nothing can be known from the master: always True."""
    if directory is None:
        return lambda: True
    registry = create_registry(directory)
    return lambda: bool(served_versions(registry))
