"""Servers for `epctl serve`: werkzeug's dev server with an in-process reloader, and gunicorn.

werkzeug's own reloader (`use_reloader=True`) restarts the whole process on a change: a project
saved half-edited would then bring the server down, or keep it restarting, until it is fixed. Here
the process stays up: a watcher thread rebuilds the app when a file changes and swaps it in only
when the new develop is valid, so the last good app keeps answering while the user sees the
problems of the new one.

Observed (`Observation`), each request writes one access line in the chosen format and werkzeug's
own request line is silenced; with an admin port, `/metrics`, `/livez` and `/readyz` answer on a
listener of their own. Under gunicorn the same settings come from `ObservedServer`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import tomli
from werkzeug import serving
from werkzeug.serving import WSGIRequestHandler, make_server

from epctl.runtime.app import EpctlApp, create_app
from epctl.runtime.hosts import HostApp
from epctl.runtime.observability.logs import LogFormat, install_handler, make_formatter
from epctl.runtime.observability.logs import configure_logging as configure_epctl_logging
from epctl.runtime.observability.middleware import ObservedApp
from epctl.runtime.observed_apps import Observation, observe_app, observe_reloading
from epctl.runtime.readiness import create_readiness, users_database_answers
from epctl.runtime.tokens import development_secret
from epctl.schemas.loader import CONFIG_FILE
from epctl.schemas.models import TABLES_BY_FOLDER, Auth
from epctl.schemas.problems import Code, EpctlError, Place, Problem, ProjectError
from epctl.schemas.static_files import STATIC_FOLDER

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from epctl.runtime.observability.admin import AdminServer, Readiness

log = logging.getLogger("epctl.runtime")

POLL_SECONDS = 0.5
# Folders whose files make up develop (TOML tables, templates and handlers beside them, static files).
WATCHED_FOLDERS = (*TABLES_BY_FOLDER, STATIC_FOLDER)
_IGNORED_DIRS = {"__pycache__", ".git"}

Snapshot = dict[str, tuple[int, int]]
OnProblems = Callable[[ProjectError], None]


class ReloadingApp:
    """A WSGI callable that serves the current develop app and rebuilds it when files change.

    The current app is one attribute, replaced whole: a request reads it once, so it is served
    entirely by the old app or entirely by the new one, with no lock on the request path.
    """

    def __init__(self, project_dir: str | Path, on_problems: OnProblems) -> None:
        self.project_dir = Path(project_dir).resolve()
        self.on_problems = on_problems
        self.snapshot = snapshot_files(self.project_dir)
        self.app: EpctlApp = create_app(self.project_dir)
        self._observed = self._traced = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)

    @property
    def observed(self) -> bool:
        """Whether an `ObservedApp` wraps this one: then each rebuilt app notes what it served, as the
        first one does."""
        return self._observed

    @observed.setter
    def observed(self, value: bool) -> None:
        self._observed = self.app.observed = value

    @property
    def traced(self) -> bool:
        """Whether the wrapper records spans: then each rebuilt app runs its workflows in spans."""
        return self._traced

    @traced.setter
    def traced(self, value: bool) -> None:
        self._traced = self.app.traced = value

    def check_for_changes(self) -> bool:
        """Rebuild the app if any watched file was added, removed or changed.

        Returns True when a new app was swapped in. An invalid develop is passed to `on_problems`
        and the last good app stays.
        """
        current = snapshot_files(self.project_dir)
        if current == self.snapshot:
            return False
        self.snapshot = current
        try:
            app = create_app(self.project_dir)
        except ProjectError as err:
            self.on_problems(err)
            return False
        except EpctlError as err:
            # A missing secret or a deleted epctl.toml is not a ProjectError; report it the same way.
            problem = Problem.error(Code.SERVE_ERROR, str(err), Place(file=CONFIG_FILE))
            self.on_problems(ProjectError([problem]))
            return False
        app.observed, app.traced = self._observed, self._traced
        self.app = app
        log.info("develop changed: reloaded %s", app)
        return True

    def start(self) -> None:
        """Start the watcher thread (a daemon: it never keeps the process alive)."""
        self._thread = threading.Thread(target=self._watch, name="epctl-reloader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the watcher thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.check_for_changes()
            except Exception:
                # A bug in a rebuild must not end reloading for the rest of the session.
                log.exception("reloading develop failed; still serving the last good app")


def snapshot_files(project_dir: Path) -> Snapshot:
    """Return {path: (mtime_ns, size)} of epctl.toml and every file under the develop folders."""
    snapshot: Snapshot = {}
    paths = [project_dir / CONFIG_FILE]
    for folder in WATCHED_FOLDERS:
        paths += [
            path for path in (project_dir / folder).rglob("*") if not _IGNORED_DIRS.intersection(path.parts)
        ]
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue  # deleted between listing and stat: the next poll sees it gone
        if path.is_file():
            snapshot[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return snapshot


def serve_develop(
    project_dir: str | Path,
    host: str,
    port: int,
    *,
    reload: bool,
    on_problems: OnProblems,
    on_ready: Callable[[], None] = lambda: None,
    observation: Observation | None = None,
) -> None:
    """Serve develop with werkzeug's development server until interrupted.

    With `reload`, file changes rebuild the app in-process (see the module docstring). `on_ready` is
    called once the app is built, before the server starts. `observation`: access lines, metrics and
    the admin listener (see `serve_app`). Raises ProjectError or MissingSecretError when develop
    cannot be served at start, AdminServerError when the admin port cannot be listened on.
    """
    if not reload:
        built = create_app(project_dir)
        check_users_database(built)
        on_ready()
        served = observe_app(built, observation) if observation is not None else built
        serve_app(served, host, port, observation)
        return
    configure_logging(observation.log_format if observation is not None else None)
    app = ReloadingApp(project_dir, on_problems)
    check_users_database(app.app)
    on_ready()
    served_app = observe_reloading(app, observation) if observation is not None else app
    app.start()
    try:
        serve_app(served_app, host, port, observation)
    finally:
        app.stop()


@contextlib.contextmanager
def allow_development_secret(project_dir: str | Path, host: str) -> Iterator[str | None]:
    """Within the block, let develop served on a loopback `host` sign tokens with a random secret of
    this process when the secret variable of `[auth]` is unset; yield that variable's name when it
    does, else None.

    Only for `epctl serve` of develop in one process: nobody else can reach it, and its sessions
    end when it stops. A frozen version, an environment, workers or another host never call this.
    """
    name = read_secret_name(project_dir) if is_loopback(host) else None
    if name is None or os.environ.get(name):
        yield None
        return
    with development_secret(name):
        yield name


def read_secret_name(project_dir: str | Path) -> str | None:
    """Return `[auth] secret_env` of the project's epctl.toml, or None when it cannot be read (the
    project's own problems are reported when its app is built)."""
    try:
        with (Path(project_dir) / CONFIG_FILE).open("rb") as handle:
            auth = tomli.load(handle).get("auth", {})
        return Auth.model_validate(auth).secret_env
    except (OSError, ValueError):
        return None


def check_users_database(app: WSGIApplication) -> None:
    """Open and close the users database of an app with `[users]`, so a server that could not sign
    anyone in refuses to start. Raises what `open_user_store` raises (e.g. MigrationNeededError).

    Closed again at once: workers open their own after gunicorn forks them.
    """
    for served in served_apps(app):
        if served.sessions is not None:
            served.sessions.store  # noqa: B018 (opening is the check)
            served.sessions.close()


def is_loopback(host: str) -> bool:
    """Return whether `host` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_app(app: WSGIApplication, host: str, port: int, observation: Observation | None = None) -> None:
    """Serve a built app (a frozen version, an environment, `--all`) with werkzeug until interrupted.

    With `observation`, the app is expected observed already: werkzeug's request lines are silenced
    (the access log replaces them), every log line is in the observation's format, and with an admin
    port its listener runs beside the server, ready from the start (the app is built). Raises
    AdminServerError when the admin port cannot be listened on.
    """
    chosen = configure_logging(observation.log_format if observation is not None else None)
    admin = None
    if observation is not None:
        admin = start_admin(observation, create_readiness(users_database_answers(served_apps(app))))
    try:
        run_development_server(app, host, port, quiet=observation is not None, colour=chosen == "text")
    finally:
        if admin is not None:
            admin.stop()


def start_admin(observation: Observation, ready: Readiness) -> AdminServer | None:
    """Start the admin listener `observation` asks for, its address logged; None without an admin port.

    Raises AdminServerError when the port cannot be listened on.
    """
    if observation.admin_port is None:
        return None
    from epctl.runtime.observability.admin import create_admin_app, start_admin_server
    from epctl.runtime.observability.metrics import multiprocess_directory

    admin = start_admin_server(
        create_admin_app(ready, metrics_directory=multiprocess_directory()),
        observation.admin_host,
        observation.admin_port,
    )
    log.info("Admin listening at: %s (/metrics, /livez, /readyz)", admin.url)
    return admin


# The development server runs a thread per connection. These bound what idle or slow clients can
# hold: a connection that sends nothing for this long is closed, and past this many connections at
# once new ones wait for a free thread instead of each taking one more.
DEV_SERVER_TIMEOUT = 30
DEV_SERVER_MAX_CONNECTIONS = 64


class RawPathRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, with a socket timeout and the request target as the client sent it.

    Python's `http.server` reduces a leading `//` of the target to `/` (a guard for its own file
    server), so `GET //dashboard` would reach `/dashboard` here and 404 under gunicorn. The app routes
    `RAW_URI`, so it is set from the request line itself.
    """

    timeout = DEV_SERVER_TIMEOUT
    quiet = False  # True: the access log writes the request line instead

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not self.quiet:
            super().log_request(code, size)

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        words = self.raw_requestline.decode("latin-1").split()
        if len(words) >= 2 and words[1].startswith("/"):
            environ["RAW_URI"] = environ["REQUEST_URI"] = words[1]
        return environ


class QuietRequestHandler(RawPathRequestHandler):
    quiet = True


def run_development_server(
    app: WSGIApplication, host: str, port: int, *, quiet: bool = False, colour: bool = True
) -> None:
    """Serve `app` with werkzeug's threaded development server until interrupted; `quiet`: without
    werkzeug's line per request (an access log writes one); `colour`: werkzeug may colour its lines
    when stderr is a terminal (never in JSON lines)."""
    handler = QuietRequestHandler if quiet else RawPathRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    slots = threading.BoundedSemaphore(DEV_SERVER_MAX_CONNECTIONS)
    start_thread = server.process_request

    def process_request(request: Any, client_address: Any) -> None:
        slots.acquire()  # released by shutdown_request, which socketserver calls for every connection
        start_thread(request, client_address)

    finish = server.shutdown_request

    def shutdown_request(request: Any) -> None:
        try:
            finish(request)
        finally:
            slots.release()

    # Instance attributes shadow socketserver's methods: acquire before a connection's thread starts,
    # release when that connection is closed.
    server.process_request = process_request  # type: ignore[method-assign]
    server.shutdown_request = shutdown_request  # type: ignore[method-assign]
    # werkzeug colours its startup warning and request lines with ANSI codes wherever they go (its
    # switch is off only on Windows without colorama): a log kept in a file or piped must be plain.
    serving._log_add_style = colour and stream_is_colour_terminal(sys.stderr)
    server.log_startup()
    with stopped_by_sigterm():
        try:
            server.serve_forever()
        finally:
            server.server_close()


@contextlib.contextmanager
def stopped_by_sigterm() -> Iterator[None]:
    """Have SIGTERM (what `docker stop`, systemd and Kubernetes send) stop the development server as
    Ctrl-C does: werkzeug's loop ends on KeyboardInterrupt, `finally` blocks and exit handlers run, and
    the exit status is 0. Without it the process died on the spot, and as a container's PID 1 (which
    the default action does not end) it ignored the signal until it was killed ten seconds later.
    Only the main thread may set a signal handler; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def stream_is_colour_terminal(stream: object) -> bool:
    """Return whether log lines written to `stream` may carry ANSI colour: a terminal, and the user
    did not ask for none (NO_COLOR, https://no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty()) and not os.environ.get("NO_COLOR")


def served_apps(app: object) -> list[EpctlApp]:
    """Return the version apps behind a served app: itself, the one an observed or reloading app
    serves now, or those of a `serve --all` host app."""
    if isinstance(app, EpctlApp):
        return [app]
    if isinstance(app, ObservedApp | ReloadingApp):
        return served_apps(app.app)
    if isinstance(app, HostApp):
        return [found for inner in (app.default, *app.by_host.values()) for found in served_apps(inner)]
    return []


def configure_logging(log_format: LogFormat | None = None) -> LogFormat:
    """Send epctl's log (workflow tracebacks, reloads) and werkzeug's (its start-up lines) to stderr in
    `log_format` (None: text on a terminal, JSON otherwise); return the format used."""
    chosen = configure_epctl_logging(log_format, sys.stderr)
    handler = _WerkzeugHandler(sys.stderr)
    handler.setFormatter(make_formatter(chosen))
    install_handler("werkzeug", handler)
    return chosen


class _WerkzeugHandler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` gives werkzeug's logger (marked, so a second call replaces it).

    werkzeug's colours are switched off in `run_development_server` unless the lines are text on a
    terminal, so a JSON line or a log file never holds terminal escapes.
    """
