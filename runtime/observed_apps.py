"""epctl's apps as `epctl serve` runs them: each wrapped in `ObservedApp` (request id, access line,
metrics when asked for, a span when the `OTEL_*` variables ask for traces).

`Observation` is what the command line chose (the log format, whether metrics are kept); `observe_app`
wraps one built app with it. `serve --all` wraps each environment's app, not the host dispatcher, so
each access line and metric carries the version and environment that answered.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from epctl.runtime.observability.access_log import AccessLog, LogFormat
from epctl.runtime.observability.middleware import ObservedApp
from epctl.runtime.observability.tracing import create_tracing

if TYPE_CHECKING:
    from epctl.runtime.app import EpctlApp
    from epctl.runtime.observability.metrics import Metrics
    from epctl.runtime.servers import ReloadingApp
    from epctl.schemas.project import Project


@dataclass(frozen=True, slots=True)
class Observation:
    """How `epctl serve` observes what it serves: access lines in `log_format`; with `admin_port` (0:
    any free port), metrics and the admin listener (`/metrics`, `/livez`, `/readyz`) on `admin_host`.
    `buffered`: access lines written in batches (`AccessLog`), for gunicorn's workers, which write
    what they hold as they exit."""

    log_format: LogFormat
    admin_port: int | None = None
    admin_host: str = "127.0.0.1"
    buffered: bool = False

    @property
    def metrics(self) -> bool:
        """Metrics are kept only where an admin listener can serve them."""
        return self.admin_port is not None


def observe_app(app: EpctlApp, observation: Observation, environment: str = "") -> ObservedApp:
    """Return `app` wrapped in `ObservedApp` as `observation` asks, labelled with `app`'s version and
    `environment` ("" for a version served by name or develop). From now on `app` tells the wrapper
    its endpoint, user and outcome per request (`EpctlApp.observed`)."""
    version = app.project.version
    return ObservedApp(
        app,
        version=version,
        environment=environment or None,
        access_log=AccessLog(observation.log_format, buffered=observation.buffered),
        metrics=create_metrics(app.project, environment) if observation.metrics else None,
        tracing=create_tracing(version, environment),
    )


def observe_reloading(app: ReloadingApp, observation: Observation) -> ObservedApp:
    """Return develop's reloading `app` wrapped as `observe_app` wraps one version: one wrapper for
    every app a change rebuilds, since they all serve version "develop"."""
    built = app.app
    return ObservedApp(
        app,
        version=built.version,
        access_log=AccessLog(observation.log_format, buffered=observation.buffered),
        metrics=create_metrics(built.project, "") if observation.metrics else None,
        tracing=create_tracing(built.version),
    )


def create_metrics(project: Project, environment: str) -> Metrics:
    """Return the metrics of an app serving `project` in `environment`; it announces the version (and
    its digest) as served from now on."""
    # Imported here: prometheus_client must not load unless metrics are wanted (see `metrics`).
    from epctl.runtime.observability.metrics import Metrics

    return Metrics(project.version, read_digest(project), environment)


def read_digest(project: Project) -> str:
    """Return the digest recorded in the version file `project` was read from ("" for develop, or a
    file that no longer reads: the digest is a label, never a reason not to serve)."""
    if project.version_file is None:
        return ""
    try:
        with project.version_file.open("rb") as file:
            digest = tomllib.load(file).get("digest", "")
    except (OSError, tomllib.TOMLDecodeError):
        return ""
    return digest if isinstance(digest, str) else ""
