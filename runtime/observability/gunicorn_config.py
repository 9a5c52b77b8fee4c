"""A gunicorn configuration module for serving epctl apps with their metrics, admin listener and logs:

    EPCTL_ADMIN_PORT=9100 gunicorn -c python:epctl.runtime.observability.gunicorn_config \\
        -w 4 -b 0.0.0.0:8080 "epctl.runtime:create_app('/srv/farm', env='production')"

An app from `epctl.runtime:create_app(...)` is wrapped in each worker as `epctl serve` wraps it (one
access line per request, metrics with an admin port); with `env=...` each worker builds the version
the environment names when it starts, so a reload (SIGHUP) serves the one `epctl.toml` names then.

Read when gunicorn starts, from environment variables:
- `EPCTL_ADMIN_PORT`: the admin listener's port (`/metrics`, `/livez`, `/readyz`) in the master; 0 for
  any free port (logged as `Admin listening at: ...`). Unset: no listener and no metrics.
- `EPCTL_ADMIN_HOST`: its address, 127.0.0.1 by default (the metrics are not for the public).
- `EPCTL_LOG_FORMAT`: `text` or `json` for gunicorn's and epctl's lines; unset: text on a terminal,
  JSON otherwise. gunicorn's own access log is off: epctl's app writes one line per request.
- `PROMETHEUS_MULTIPROC_DIR`: where the workers write their metrics; emptied at start. Unset (and an
  admin port given): a temporary directory, removed at exit.

Use the `python:` form: gunicorn imports a module once, so a reload (SIGHUP) keeps the listener and
the metrics directory; a configuration file is executed again on each reload.

gunicorn reads this module's public names as settings; everything else here is private.
"""

from __future__ import annotations

import os as _os

from epctl.runtime.observability import gunicorn_hooks as _hooks
from epctl.runtime.observability.admin_address import read_admin_host as _read_admin_host
from epctl.runtime.observability.logs import InvalidLogFormatError as _InvalidLogFormatError
from epctl.runtime.observability.logs import parse_log_format as _parse_log_format
from epctl.runtime.observability.metrics import MULTIPROCESS_ENV as _MULTIPROCESS_ENV
from epctl.runtime.observability.metrics import MetricsSetupError as _MetricsSetupError
from epctl.runtime.observability.metrics import prepare_metrics_directory as _prepare_metrics_directory

ADMIN_PORT_ENV = "EPCTL_ADMIN_PORT"
LOG_FORMAT_ENV = "EPCTL_LOG_FORMAT"


def _read_server() -> _hooks.ObservedServer:
    """Return the server's observability from the environment; exit with a message for a bad value
    (gunicorn prints it, with no traceback)."""
    port_text = _os.environ.get(ADMIN_PORT_ENV, "").strip()
    admin_port = None
    if port_text:
        if not port_text.isdecimal() or int(port_text) > 65535:
            raise SystemExit(f'{ADMIN_PORT_ENV} must be a port number from 0 to 65535, not "{port_text}"')
        admin_port = int(port_text)
    log_format = None
    if _os.environ.get(LOG_FORMAT_ENV, "").strip():
        try:
            log_format = _parse_log_format(_os.environ[LOG_FORMAT_ENV])
        except _InvalidLogFormatError as err:
            raise SystemExit(f"{LOG_FORMAT_ENV}: {err}") from None
    directory = None
    if admin_port is not None or _os.environ.get(_MULTIPROCESS_ENV):
        try:
            # Here, when gunicorn reads its configuration: before it loads the app, even a preloaded
            # one, so the workers' metrics are multiprocess from their first value.
            directory = _prepare_metrics_directory()
        except _MetricsSetupError as err:
            raise SystemExit(str(err)) from None
    return _hooks.ObservedServer(
        metrics_directory=directory,
        admin_port=admin_port,
        admin_host=_read_admin_host(),
        log_format=log_format,
    )


_server = _read_server()
_settings = _server.settings()

accesslog = _settings["accesslog"]
logger_class = _settings["logger_class"]
when_ready = _settings["when_ready"]
post_fork = _settings["post_fork"]
post_worker_init = _settings["post_worker_init"]
child_exit = _settings["child_exit"]
on_exit = _settings["on_exit"]
