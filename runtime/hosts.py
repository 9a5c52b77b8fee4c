"""`serve --all`: develop and every environment in one process, chosen per request by Host.

Each environment serves the version it points at under its `root`; a request whose Host is in no
environment's `hosts` goes to develop (README "Serving").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from epctl.runtime.app import EpctlApp, build_version
from epctl.schemas.loader import load_environments
from epctl.schemas.project import DEVELOP
from epctl.schemas.version_file import VersionNotFoundError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@dataclass(frozen=True, slots=True)
class Mounted:
    """One environment as `serve --all` serves it."""

    env: str
    version: str
    root: str
    hosts: tuple[str, ...]


class HostApp:
    """A WSGI app that hands each request to the app of its Host header (port and case ignored)."""

    def __init__(self, default: WSGIApplication, by_host: dict[str, WSGIApplication]) -> None:
        self.default = default
        self.by_host = {host.lower(): app for host, app in by_host.items()}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        app = self.by_host.get(host_name(environ.get("HTTP_HOST", "")), self.default)
        return app(environ, start_response)


def host_name(header: str) -> str:
    """Return the host of a Host header without its port: `Farm.Example.com:8080` -> `farm.example.com`."""
    header = header.strip().lower()
    if header.startswith("["):  # IPv6 literal: [::1]:8080
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if ":" in header else header


# Wraps the app of one environment ("" for develop): `serve` observes each app on its own, so that
# access lines and metrics name the version and environment that answered.
Wrap = Callable[[EpctlApp, str], "WSGIApplication"]


def build_host_app(
    project_dir: str | Path, *, wrap: Wrap | None = None
) -> tuple[HostApp, list[Mounted], list[str]]:
    """Return the app serving develop plus every environment, what is mounted, and notes on
    environments left out (a version not frozen yet is a warning, as in `validate`). With `wrap`,
    each app is served as `wrap(app, environment)` returns it.

    Raises ProjectError when develop or a frozen version has errors, MissingSecretError as create_app.
    """
    root = Path(project_dir).resolve()
    environments = load_environments(root)
    built_develop = build_version(root, DEVELOP)
    develop = wrap(built_develop, "") if wrap is not None else built_develop
    by_host: dict[str, WSGIApplication] = {}
    mounted: list[Mounted] = []
    notes: list[str] = []
    apps: dict[tuple[str, str], WSGIApplication] = {}
    for name, environment in sorted(environments.items()):
        key = (environment.version, environment.root)
        if key not in apps:
            try:
                # With epctl.toml's [users], as `serve --env` serves it: users are not part of a version.
                built = build_version(root, environment.version, mount=environment.root)
                apps[key] = wrap(built, name) if wrap is not None else built
            except VersionNotFoundError:
                notes.append(
                    f'environment "{name}" is not served: version "{environment.version}" is not frozen yet'
                )
                continue
        for host in environment.hosts:
            by_host[host] = apps[key]
        mounted.append(Mounted(name, environment.version, environment.root, tuple(environment.hosts)))
    return HostApp(develop, by_host), mounted, notes
