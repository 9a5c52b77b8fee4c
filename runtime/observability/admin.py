"""The admin listener: `/metrics`, `/livez` and `/readyz` on a port of their own.

A separate WSGI app on a separate socket, never mounted among the experience's routes: no user route
can shadow it, and nothing a visitor of the site reaches can read the metrics. `start_admin_server`
runs it in a daemon thread of the process that serves (the single-process server, or gunicorn's
master, which has no requests of its own to serve).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from epctl.schemas.problems import EpctlError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("epctl.runtime")

Readiness = Callable[[], bool]
TEXT = ("Content-Type", "text/plain; charset=utf-8")
ALLOWED = "GET, HEAD"
NOT_FOUND = b"not found: the admin listener serves /metrics, /livez and /readyz\n"


class AdminServerError(EpctlError):
    """The admin listener cannot listen where it was asked to."""


def create_admin_app(ready: Readiness, *, metrics_directory: str | Path | None = None) -> WSGIApplication:
    """Return the admin WSGI app.

    `/metrics`: the Prometheus text format of every process writing to `metrics_directory` (the
    multiprocess directory), or of this process's registry without one. `/livez`: 200 while the
    process answers. `/readyz`: 200 once `ready()` returns True (the version is built; later, the
    users database answers), else 503; a `ready` that raises counts as not ready and is logged.
    Anything else is 404, a method other than GET or HEAD 405.
    """
    from prometheus_client import make_wsgi_app

    from epctl.runtime.observability.metrics import create_registry

    metrics_app: WSGIApplication = make_wsgi_app(create_registry(metrics_directory))

    def admin_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        if path not in ("/metrics", "/livez", "/readyz"):
            return reply(start_response, "404 Not Found", NOT_FOUND, method)
        if method not in ("GET", "HEAD"):
            return reply(start_response, "405 Method Not Allowed", b"use GET or HEAD\n", method)
        if path == "/livez":
            return reply(start_response, "200 OK", b"ok\n", method)
        if path == "/readyz":
            if check_ready(ready):
                return reply(start_response, "200 OK", b"ready\n", method)
            return reply(start_response, "503 Service Unavailable", b"not ready\n", method)
        # prometheus_client answers GET only; HEAD gets its headers and no body.
        body = metrics_app({**environ, "REQUEST_METHOD": "GET"}, start_response)
        return [] if method == "HEAD" else body

    return admin_app


def reply(start_response: StartResponse, status: str, body: bytes, method: str) -> list[bytes]:
    headers = [TEXT, ("Content-Length", str(len(body)))]
    if status.startswith("405"):
        headers.append(("Allow", ALLOWED))
    start_response(status, headers)
    return [] if method == "HEAD" else [body]


def check_ready(ready: Readiness) -> bool:
    """Return what `ready()` returns; False, logged, when it raises."""
    try:
        return bool(ready())
    except Exception:
        log.exception("the readiness check failed; answering /readyz with 503")
        return False


class _QuietRequestHandler(WSGIRequestHandler):
    # A scraper asks every few seconds: one log line per scrape would bury the access log.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class AdminServer:
    """The admin app listening on its own socket, served by a daemon thread once started."""

    def __init__(self, server: BaseWSGIServer) -> None:
        self._server = server
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        """The port listened on: the one asked for, or the one the system chose for port 0."""
        return self._server.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Serve in a daemon thread (it never keeps the process alive)."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="epctl-admin", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the thread."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def close_in_child(self) -> None:
        """Close this process's copy of the socket, in a child forked while the server ran (a gunicorn
        worker): only the parent answers on it, and the child must not keep the port open after."""
        self._server.socket.close()


def start_admin_server(app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> AdminServer:
    """Listen on `host`:`port` (0: any free port) and serve `app` in a daemon thread.

    Raises AdminServerError when the address cannot be listened on.
    """
    # The socket is bound here, not by werkzeug: werkzeug prints and exits the process when it cannot
    # bind, and a server must instead say which listener failed and go on reporting normally.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host, port), family=family)
    except OSError as err:
        raise AdminServerError(
            f"the admin listener cannot listen on {host}:{port} "
            f"({os.strerror(err.errno) if err.errno else err}): "
            "choose another admin port"
        ) from None
    with listener:  # werkzeug serves a duplicate of this descriptor
        server = make_server(
            host, port, app, threaded=True, request_handler=_QuietRequestHandler, fd=listener.fileno()
        )
    admin = AdminServer(server)
    admin.start()
    return admin
