"""One honest bench of a request: epctl next to Falcon, the lean werkzeug app and Flask, in one run.

Run: `python bench/bench_request.py [--quick] [--no-server] [--profile]` from the repo root, with the
`bench` extra installed (`pip install -e '.[bench]'`: Falcon, Flask) and `wrk` on PATH for the load
(`apt-get install -y wrk`; without it a bounded Python load generator is used). Prints, in one run:

1. In-process CPU time per request (no sockets: the WSGI callable is called with a prepared environ, the
   body consumed), each app in the same 100-route table, in interleaved rounds (the apps take turns in
   a rotating order, so a slow patch of a shared machine hits all of them alike):
   - JSON: `GET /devices/42` answered with JSON by a workflow (epctl), a responder (Falcon), a view
     (Flask), a hand-written werkzeug app (Map and Response, the minimum that gives the same reply),
     and the raw WSGI callable returning fixed bytes (the floor);
   - page: `GET /pages/devices/42?view=full`, a page with a layout and a component from the same
     templates in Jinja2's sandbox, on epctl and on Falcon + Jinja2 (and werkzeug + Jinja2).
   Every app sends the same reply: status, Content-Type, body (JSON compared parsed), CORS `*` and the
   project's response header; `check_apps` refuses to time an app that does not.
2. Requests/second under gunicorn (2 workers; sync, then gthread with 4 threads) for the JSON route,
   each app as a share of the raw WSGI callable's rate (the ceiling of the server itself), and the
   workers' CPU time per request (read from /proc): on a machine shared with other work, req/s
   moves with everyone's load, while CPU per request is what each request costs the server.

Ratios are printed as the best of each app over the best of the reference, and as the median of
per-round ratios (measured back to back, so the one least moved by a busy machine). Nothing is
asserted about wall-clock times. Every app is importable (`bench_request:make_falcon_app()` and so
on), which is how gunicorn loads them: one definition serves both parts.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import importlib.metadata
import io
import json
import os
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

JSON_PATH = "/devices/42"
PAGE_PATH = "/pages/devices/42"
PAGE_QUERY = "view=full"
# What every app adds to its replies: epctl's default CORS (allowed_origins = ["*"]) and the one
# response header the project declares.
COMMON_HEADERS = {"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff"}
ORIGIN = "https://app.example.com"
APPLICATION = {"name": "bench-farm"}
GLOBALS = {"company": "Bench Farm Ltd.", "support_email": "help@farm.example.com", "tags": ["new", "sale"]}

# -- the 100 routes, in hapi syntax; each framework gets the same table in its own syntax --------------
FILLER = (
    [f"/r{i}/items" for i in range(33)]
    + [f"/r{i}/items/{{id}}" for i in range(33)]
    + [f"/r{i}/items/{{id}}/history" for i in range(32)]
)
ROUTES = ["/devices/{id}", "/pages/devices/{id}", *FILLER]
assert len(ROUTES) == 100


def as_werkzeug(route: str) -> str:
    """Return a route in werkzeug's (and Flask's) syntax: `/devices/{id}` -> `/devices/<id>`."""
    return re.sub(r"\{(\w+)\}", r"<\1>", route)


def device_payload(device_id: str) -> dict[str, Any]:
    """The JSON reply of `/devices/{id}`: every app builds this same dict."""
    return {"id": device_id, "name": f"Device {device_id}", "links": {"self": f"/devices/{device_id}"}}


# -- the epctl project ------------------------------------------------------------------------------
EPCTL_TOML = f"""\
[project]
name = "{APPLICATION["name"]}"

[settings]
response_headers = {{ "X-Content-Type-Options" = "nosniff" }}
globals = {{ company = "{GLOBALS["company"]}", support_email = "{GLOBALS["support_email"]}", \
tags = ["new", "sale"] }}
"""

WORKFLOWS_TOML = """\
[[workflow]]
name = "show-device"
handler = "devices.py:show_device"
endpoints = ["device"]

[[workflow]]
name = "filler"
handler = "devices.py:filler"
endpoints = [{ids}]
"""

WORKFLOW_PY = """\
def show_device(request):
    device_id = request.params["id"]
    return {"id": device_id, "name": f"Device {device_id}", "links": {"self": f"/devices/{device_id}"}}


def filler(request):
    return {"params": request.params}
"""

PAGES_TOML = """\
[[layout]]
name = "main"
template = "templates/main.html"

[[component]]
name = "footer"
template = "templates/footer.html"

[[page]]
name = "device"
layout = "main"
template = "templates/device.html"
"""

LAYOUT_HTML = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{% block title %}{{ application.name }}{% endblock %}</title>
</head>
<body>
  <header><a href="/">{{ globals.company }}</a></header>
  <main>
    {% block content %}{% endblock %}
  </main>
  {% include "footer" %}
</body>
</html>
"""

FOOTER_HTML = """\
<footer>
  <p>Questions? <a href="mailto:{{ globals.support_email }}">{{ globals.support_email }}</a></p>
  <p><small>rendered {{ time.strftime("%Y-%m-%d %H:%M") }} UTC</small></p>
</footer>
"""

PAGE_HTML = """\
{% block title %}Device {{ request.params.id }}{% endblock %}
{% block content %}
<h1>Device {{ request.params.id }}</h1>
<p>Asked for as {{ request.method }} {{ request.path }}{% if request.query.view %}, \
{{ request.query.view }} view{% endif %}.</p>
<ul>{% for tag in globals.tags %}<li>{{ tag }}</li>{% endfor %}</ul>
{% endblock %}
"""

# How a framework with Jinja2 says what epctl's layouts do: the page extends its layout.
JINJA_TEMPLATES = {"main": LAYOUT_HTML, "footer": FOOTER_HTML, "device": '{% extends "main" %}' + PAGE_HTML}


def write_project(root: Path) -> Path:
    """Write the epctl project of the bench (100 endpoints) into `root` and return `root`."""
    for folder in ("endpoints", "pages/templates", "workflows"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "epctl.toml").write_text(EPCTL_TOML)
    endpoints = [
        '[[endpoint]]\nid = "device"\nmethod = "GET"\nroute = "/devices/{id}"\n',
        '[[endpoint]]\nid = "device-page"\nmethod = "GET"\nroute = "/pages/devices/{id}"\n'
        'reply = { type = "page", page = "device" }\n',
    ]
    endpoints += [
        f'[[endpoint]]\nid = "filler-{n}"\nmethod = "GET"\nroute = "{route}"\n'
        for n, route in enumerate(FILLER)
    ]
    (root / "endpoints" / "all.toml").write_text("\n".join(endpoints))
    (root / "pages" / "site.toml").write_text(PAGES_TOML)
    (root / "pages" / "templates" / "main.html").write_text(LAYOUT_HTML)
    (root / "pages" / "templates" / "footer.html").write_text(FOOTER_HTML)
    (root / "pages" / "templates" / "device.html").write_text(PAGE_HTML)
    ids = ", ".join(f'"filler-{n}"' for n in range(len(FILLER)))
    (root / "workflows" / "devices.toml").write_text(WORKFLOWS_TOML.format(ids=ids))
    (root / "workflows" / "devices.py").write_text(WORKFLOW_PY)
    return root


def page_context(path: str, method: str, params: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    """The render context the other apps give the page: what its templates read, as epctl has it."""
    return {
        "time": datetime.now(UTC),
        "application": APPLICATION,
        "globals": GLOBALS,
        "request": {"path": path, "method": method, "params": params, "query": query},
    }


def sandboxed_templates() -> Any:
    """Return Jinja2's sandboxed environment with the page's templates, autoescaped like epctl's."""
    from jinja2 import DictLoader
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(loader=DictLoader(JINJA_TEMPLATES), autoescape=True)


# -- the apps (importable by gunicorn as `bench_request:make_..._app()`) ---------------------------------
def make_epctl_app(project_dir: str) -> WsgiApp:
    """Return epctl's app for the develop version of the project in `project_dir`."""
    from epctl.runtime import create_app

    return create_app(project_dir)


RAW_BODY = json.dumps(device_payload("42")).encode()
RAW_HEADERS = [
    ("Content-Type", "application/json"),
    ("Content-Length", str(len(RAW_BODY))),
    *COMMON_HEADERS.items(),
]


def make_raw_app() -> WsgiApp:
    """Return the raw WSGI callable: the same reply as fixed bytes, no routing, no work at all."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", RAW_HEADERS)
        return [RAW_BODY]

    return app


def make_falcon_app(idiomatic: bool = False) -> WsgiApp:
    """Return a Falcon app with the 100 routes; the page renders the templates in Jinja2's sandbox.

    The lean app (the target's reference) sets the JSON text and the two headers by hand in each
    responder: `resp.text` with `json.dumps` is Falcon's cheapest JSON reply. The idiomatic one writes
    what Falcon's documentation shows: `resp.media`, and `cors_enable=True` for CORS on every reply
    (as epctl has it) instead of a header set by hand.
    """
    import falcon

    templates = sandboxed_templates()
    own_headers = {"X-Content-Type-Options": "nosniff"} if idiomatic else COMMON_HEADERS

    class Device:
        def on_get(self, req: Any, resp: Any, id: str) -> None:
            if idiomatic:
                resp.media = device_payload(id)
            else:
                resp.text = json.dumps(device_payload(id))
                resp.content_type = falcon.MEDIA_JSON
            resp.set_headers(own_headers)

    class DevicePage:
        def on_get(self, req: Any, resp: Any, id: str) -> None:
            context = page_context(req.path, req.method, {"id": id}, req.params)
            resp.text = templates.get_template("device").render(context)
            resp.content_type = falcon.MEDIA_HTML
            resp.set_headers(own_headers)

    class Filler:
        def on_get(self, req: Any, resp: Any, **params: str) -> None:
            resp.media = {"params": params}

    app = falcon.App(cors_enable=idiomatic)
    app.add_route(ROUTES[0], Device())
    app.add_route(ROUTES[1], DevicePage())
    filler = Filler()
    for route in FILLER:
        app.add_route(route, filler)
    return app


def make_werkzeug_app() -> WsgiApp:
    """Return the lean werkzeug app: a Map of the 100 routes and a Response, nothing else; a Request
    only for the page, which reads the query."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import Map, Rule
    from werkzeug.wrappers import Request, Response

    url_map = Map([Rule(as_werkzeug(route), endpoint=route, methods=["GET"]) for route in ROUTES])
    templates = sandboxed_templates()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            route, params = url_map.bind_to_environ(environ).match()
        except HTTPException as err:
            return err(environ, start_response)
        if route == ROUTES[0]:
            body = json.dumps(device_payload(params["id"]))
            response = Response(body, content_type="application/json", headers=COMMON_HEADERS)
        elif route == ROUTES[1]:
            request = Request(environ)
            context = page_context(request.path, request.method, params, request.args.to_dict())
            text = templates.get_template("device").render(context)
            response = Response(text, content_type="text/html; charset=utf-8", headers=COMMON_HEADERS)
        else:
            response = Response(json.dumps({"params": params}), content_type="application/json")
        return response(environ, start_response)

    return app


def make_flask_app() -> WsgiApp:
    """Return a Flask app with the 100 routes; the device view returns its dict and the two headers."""
    from flask import Flask

    app = Flask("bench_flask")

    def device(id: str) -> tuple[dict[str, Any], dict[str, str]]:
        return device_payload(id), COMMON_HEADERS

    def filler(**params: str) -> dict[str, Any]:
        return {"params": params}

    app.add_url_rule(as_werkzeug(ROUTES[0]), "device", device)
    for number, route in enumerate(ROUTES[1:]):
        app.add_url_rule(as_werkzeug(route), f"filler-{number}", filler)
    return app


# -- part 1: in-process cost per request ---------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    status: str
    headers: dict[str, str]
    body: bytes


def make_environ(path: str, query: str = "") -> dict[str, Any]:
    """Return the WSGI environ of `GET path?query` from a browser app on another origin (so CORS
    applies), with RAW_URI set as gunicorn sets it."""
    environ = EnvironBuilder(path=path, query_string=query, headers={"Origin": ORIGIN}).get_environ()
    environ["RAW_URI"] = environ["REQUEST_URI"] = f"{path}?{query}" if query else path
    return environ


def call_app(app: WsgiApp, environ: dict[str, Any]) -> Reply:
    """Call `app` as a WSGI server does: start_response, consume the body, close the iterable."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started[:] = [status, headers]

    iterable = app(dict(environ), start_response)
    try:
        body = b"".join(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return Reply(started[0], {name.lower(): value for name, value in started[1]}, body)


def check_apps(json_apps: dict[str, WsgiApp], page_apps: dict[str, WsgiApp]) -> None:
    """Raise AssertionError unless every app sends the same reply, so a broken app cannot look fast."""
    for name, app in json_apps.items():
        reply = call_app(app, make_environ(JSON_PATH))
        assert reply.status == "200 OK", (name, reply)
        assert json.loads(reply.body) == device_payload("42"), (name, reply.body)
        assert reply.headers["content-type"] == "application/json", (name, reply.headers)
        assert reply.headers["content-length"] == str(len(reply.body)), (name, reply.headers)
        for header, value in COMMON_HEADERS.items():
            assert reply.headers[header.lower()] == value, (name, header, reply.headers)
    pages: list[bytes] = []
    for name, app in page_apps.items():
        reply = call_app(app, make_environ(PAGE_PATH, PAGE_QUERY))
        assert reply.status == "200 OK", (name, reply)
        assert reply.headers["content-type"] == "text/html; charset=utf-8", (name, reply.headers)
        for header, value in COMMON_HEADERS.items():
            assert reply.headers[header.lower()] == value, (name, header, reply.headers)
        text = reply.body.decode()
        for part in (
            "<title>Device 42</title>",
            "GET /pages/devices/42, full view",
            "<li>sale</li>",
            "<footer>",
        ):
            assert part in text, (name, part, text)
        pages.append(re.sub(rb"rendered [^<]*UTC", b"", reply.body))  # the minute may differ
    assert all(page == pages[0] for page in pages), pages


def make_request_loop(app: WsgiApp, environ: dict[str, Any]) -> Callable[[int], None]:
    """Return a function making `n` requests to `app`, as lean as a loop can be so the app's cost
    dominates: a copy of the environ each time (an app may write into it), a start_response that
    does nothing, the body consumed and the iterable closed as a server does."""

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        return None

    def loop(n: int) -> None:
        for _ in range(n):
            iterable = app(environ.copy(), start_response)
            for _chunk in iterable:
                pass
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    return loop


def time_per_request(
    loops: dict[str, Callable[[int], None]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """Return {name: microseconds per request in each of `rounds` rounds of `calls` requests per app},
    the apps taking turns within each round in a rotating order.

    The time is this process's CPU time (`time.process_time`): on a machine shared with other work,
    wall-clock time mostly measures how long the process waited for a CPU.
    """
    for loop in loops.values():
        loop(max(1, calls // 10))  # warm up: template caches, lazily built routers, cached properties
    times: dict[str, list[float]] = {name: [] for name in loops}
    names = list(loops)
    for turn in range(rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            start = time.process_time()
            loops[name](calls)
            times[name].append((time.process_time() - start) / calls * 1e6)
    return times


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Return the median of per-round ratios: each pair was measured back to back."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def report_costs(title: str, costs: dict[str, list[float]], reference: str, verdicts: list[str]) -> None:
    """Print best and median us/request of each app with its ratios to `reference`, then epctl's
    ratio to each app named in `verdicts` against the target (<= 1.0x)."""
    print(f"\n{title}")
    print(f"   {'app':24} {'best':>9} {'median':>9}   x {reference} (best/best, median of rounds)")
    for name, times in costs.items():
        ratio = ""
        if name != reference and not name.startswith("raw"):
            best = min(times) / min(costs[reference])
            ratio = f"{best:5.2f}x  {paired_ratio(times, costs[reference]):5.2f}x"
        print(f"   {name:24} {min(times):7.1f}us {statistics.median(times):7.1f}us   {ratio}")
    for other in verdicts:
        paired = paired_ratio(costs["epctl"], costs[other])
        verdict = "met" if paired <= 1.0 else "NOT met"
        print(f"   epctl / {other}: {paired:.2f}x (median of rounds; target <= 1.0x: {verdict})")


def profile_requests(app: WsgiApp, environ: dict[str, Any], calls: int, top: int) -> str:
    """Return cProfile's top `top` functions by own time over `calls` requests."""
    loop = make_request_loop(app, environ)
    loop(100)
    profiler = cProfile.Profile()
    profiler.runcall(loop, calls)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- part 2: requests/second under gunicorn ------------------------------------------------------------
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BOOTED = re.compile(r"Booting worker with pid")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def run_gunicorn(
    name: str,
    app_spec: str,
    workdir: Path,
    worker_class: str,
    workers: int = 2,
    *,
    prefix: Sequence[str] = (),
    options: Sequence[str] = (),
    boot_timeout: float = 60,
) -> Iterator[Server]:
    """Run gunicorn serving `app_spec` (`module:factory(...)`) on 127.0.0.1 at an ephemeral port.

    `prefix` goes before the Python command (a profiler running it), `options` after gunicorn's own.
    Yields once the port is known and every worker has booted (within `boot_timeout` seconds); always
    stops gunicorn on exit.
    """
    run_dir = workdir / f"run-{name}-{worker_class}"
    run_dir.mkdir()
    log = workdir / f"gunicorn-{name}-{worker_class}.log"
    command = [
        *prefix,
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        *(["--threads", "4"] if worker_class == "gthread" else []),
        "--bind",
        "127.0.0.1:0",  # the kernel picks a free port; gunicorn's log says which
        "--pythonpath",
        str(Path(__file__).resolve().parent),
        "--error-logfile",
        "-",
        "--log-level",
        "info",
        *options,
        app_spec,
    ]
    # gunicorn >= 25.1 opens a control socket in $XDG_RUNTIME_DIR (else one path per user): a directory
    # of its own per server keeps these servers, and any other gunicorn on the host, apart.
    environment = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as log_file:
        # stderr to a file, not a pipe: nobody reads a pipe during the load, and a full one would block.
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=environment)
    try:
        port = wait_for_gunicorn(process, log, workers, boot_timeout)
        yield Server(name, port, process, log)
    finally:
        stop_process(process)


def wait_for_gunicorn(process: subprocess.Popen[bytes], log: Path, workers: int, timeout: float = 60) -> int:
    """Return the port once gunicorn listens and `workers` workers booted; raise RuntimeError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        found = LISTENING.search(text)
        if found and len(BOOTED.findall(text)) >= workers:
            return int(found.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{text[-3000:]}")
        time.sleep(0.05)
    raise RuntimeError(
        f"gunicorn did not start within {timeout} s:\n{log.read_text(errors='replace')[-3000:]}"
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn gracefully (SIGTERM stops its workers too), killing it if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_serving(server: Server, path: str, timeout: float = 60) -> None:
    """Return once `GET path` answers 200 (workers import the app after gunicorn logs their boot).

    Raises RuntimeError when gunicorn exits first or answers something else, OSError when it still
    refuses connections after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            log = server.log.read_text(errors="replace")
            raise RuntimeError(
                f"gunicorn ({server.name}) exited with {server.process.returncode}:\n{log[-3000:]}"
            )
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            connection.close()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        if response.status != 200:
            raise RuntimeError(f"GET {path} on {server.name} answered {response.status}")
        return


@dataclass
class Load:
    requests_per_s: float
    errors: int  # non-2xx replies and socket errors: a non-zero count makes the figure suspect
    requests: int = 0
    worker_cpu_s: float = 0.0  # CPU time the workers spent during the load (set by measure_servers)

    @property
    def cpu_us_per_request(self) -> float:
        return self.worker_cpu_s / max(1, self.requests) * 1e6


def worker_cpu_seconds(master: int) -> float:
    """Return the user + system CPU seconds used so far by the children (workers) of process `master`."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited since the listing
        # After the command name in parentheses: state, ppid, ..., utime (12th), stime (13th).
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == master:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def load_with_wrk(wrk: str, port: int, path: str, seconds: float, connections: int) -> Load:
    """Return wrk's requests/second for `GET path` on 127.0.0.1:`port` (2 threads)."""
    command = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"http://127.0.0.1:{port}{path}",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    count = re.search(r"(\d+) requests in", output)
    requests = int(count.group(1)) if count else 0
    return Load(float(rate.group(1)), errors + (int(non_2xx.group(1)) if non_2xx else 0), requests)


def load_with_python(port: int, path: str, seconds: float, connections: int) -> Load:
    """Return requests/second from `connections` threads, each with a keep-alive HTTP connection.

    The fallback when wrk is missing: the client shares the GIL and the CPUs, so absolute figures are
    lower than wrk's, but every server is measured with the same client.
    """
    counts = [0] * connections
    errors = [0] * connections
    deadline = time.perf_counter() + seconds

    def run(slot: int) -> None:
        # sync workers close every connection; http.client then reconnects on its own.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < deadline:
            try:
                connection.request("GET", path, headers={"Origin": ORIGIN})
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    counts[slot] += 1
                else:
                    errors[slot] += 1
            except (OSError, http.client.HTTPException):
                errors[slot] += 1
                connection.close()
        connection.close()

    start = time.perf_counter()
    workers = [threading.Thread(target=run, args=(slot,), daemon=True) for slot in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 30)
    return Load(sum(counts) / (time.perf_counter() - start), sum(errors), sum(counts))


def measure_servers(
    specs: dict[str, str], workdir: Path, worker_class: str, seconds: float, rounds: int
) -> tuple[dict[str, list[Load]], str]:
    """Return ({name: its load in each of `rounds` rounds}, the load tool), every server up at once and
    idle while another is loaded, taking turns in a rotating order."""
    wrk = shutil.which("wrk")
    if wrk:
        tool = f"wrk -t2 -c32 -d{max(1, round(seconds))}s"

        def load(port: int, duration: float) -> Load:
            return load_with_wrk(wrk, port, JSON_PATH, duration, connections=32)
    else:
        tool = f"python http.client, 8 threads, {seconds:g} s (wrk not on PATH)"

        def load(port: int, duration: float) -> Load:
            return load_with_python(port, JSON_PATH, duration, connections=8)

    loads: dict[str, list[Load]] = {name: [] for name in specs}
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(run_gunicorn(name, spec, workdir, worker_class))
            for name, spec in specs.items()
        ]
        for server in servers:
            wait_until_serving(server, JSON_PATH)
            load(server.port, 1)  # warm-up, not recorded
        for turn in range(rounds):
            for server in servers[turn % len(servers) :] + servers[: turn % len(servers)]:
                before = worker_cpu_seconds(server.process.pid)
                measured = load(server.port, seconds)
                measured.worker_cpu_s = worker_cpu_seconds(server.process.pid) - before
                loads[server.name].append(measured)
    return loads, tool


def report_servers(
    worker_class: str, loads: dict[str, list[Load]], rounds: int, tool: str, target: float
) -> None:
    """Print each server's req/s and its workers' CPU time per request, each as a share of the raw
    callable's (for CPU: raw's CPU per request over the app's, the req/s share the app reaches when
    the workers' CPU is what limits them)."""
    print(f"\n{worker_class} workers (2), GET {JSON_PATH}; {rounds} rounds of: {tool}")
    print(
        f"   {'app':10} {'req/s: best':>11} {'median':>7} {'x raw':>6}   "
        f"{'worker CPU/request: best':>24} {'median':>7} {'x raw':>6}"
    )
    rates = {name: [load.requests_per_s for load in runs] for name, runs in loads.items()}
    # Inverted, so that for both figures more is better and the share reads the same way.
    speeds = {name: [1 / load.cpu_us_per_request for load in runs] for name, runs in loads.items()}
    for name, runs in loads.items():
        errors = sum(load.errors for load in runs)
        note = f"  ({errors} errors: figures suspect)" if errors else ""
        cpu = [load.cpu_us_per_request for load in runs]
        rate_share = paired_ratio(rates[name], rates["raw"])
        cpu_share = paired_ratio(speeds[name], speeds["raw"])
        rate = f"{max(rates[name]):11.0f} {statistics.median(rates[name]):7.0f} {rate_share:5.2f}x"
        cost = f"{min(cpu):22.0f}us {statistics.median(cpu):5.0f}us {cpu_share:5.2f}x"
        print(f"   {name:10} {rate}   {cost}{note}")
    if target:
        for label, figures in (("req/s", rates), ("CPU per request", speeds)):
            paired = paired_ratio(figures["epctl"], figures["raw"])
            verdict = "met" if paired >= target else "NOT met"
            print(
                f"   epctl / raw, {label}: {paired:.2f}x (median of rounds; target >= {target:.1f}x: ", end=""
            )
            print(f"{verdict})")


def measure_in_process(project: str, rounds: int, calls: int, *, profile: bool) -> None:
    """Time part 1 (JSON, then page) and print it; with `profile`, cProfile's top costs of epctl."""
    epctl, falcon_app, werkzeug_app = make_epctl_app(project), make_falcon_app(), make_werkzeug_app()
    idiomatic = make_falcon_app(idiomatic=True)
    json_apps = {
        "raw WSGI (fixed bytes)": make_raw_app(),
        "falcon": falcon_app,
        "falcon (media, cors)": idiomatic,
        "epctl": epctl,
        "werkzeug (Map, Response)": werkzeug_app,
        "flask": make_flask_app(),
    }
    page_apps = {
        "falcon + jinja2": falcon_app,
        "falcon (cors) + jinja2": idiomatic,
        "epctl": epctl,
        "werkzeug + jinja2": werkzeug_app,
    }
    check_apps(json_apps, page_apps)

    json_env, page_env = make_environ(JSON_PATH), make_environ(PAGE_PATH, PAGE_QUERY)
    costs = time_per_request(
        {name: make_request_loop(app, json_env) for name, app in json_apps.items()}, rounds, calls
    )
    report_costs(
        f"1a. In-process, JSON workflow reply, GET {JSON_PATH}, 100 routes; "
        f"{rounds} rounds x {calls} requests",
        costs,
        "falcon",
        ["falcon", "falcon (media, cors)"],
    )
    costs = time_per_request(
        {name: make_request_loop(app, page_env) for name, app in page_apps.items()}, rounds, calls // 4
    )
    report_costs(
        f"1b. In-process, page with layout and component, GET {PAGE_PATH}?{PAGE_QUERY}, "
        f"Jinja2 sandboxed; {rounds} rounds x {calls // 4} requests",
        costs,
        "falcon + jinja2",
        ["falcon + jinja2", "falcon (cors) + jinja2"],
    )
    if profile:
        for label, environ in (("JSON", json_env), ("page", page_env)):
            print(f"\n   cProfile, epctl {label} request ({calls} requests):")
            print(profile_requests(epctl, environ, calls, top=20))


# -- main --------------------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few rounds, 1-second loads")
    parser.add_argument("--no-server", action="store_true", help="skip the gunicorn part")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top costs of epctl")
    parser.add_argument("--no-in-process", action="store_true", help="skip the in-process part")
    parser.add_argument(
        "--workers", default="sync,gthread", help="gunicorn worker classes to measure (default sync,gthread)"
    )
    args = parser.parse_args(argv[1:])
    rounds, calls = (3, 300) if args.quick else (25, 2_000)
    load_seconds, load_rounds = (1.0, 1) if args.quick else (3.0, 7)

    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("falcon", "flask", "werkzeug", "jinja2", "gunicorn")
    )
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}); "
        f"{versions}; {'quick' if args.quick else 'full'} run"
    )
    workdir = Path(tempfile.mkdtemp(prefix="epctl-bench-request-"))
    try:
        project = write_project(workdir / "project")
        if not args.no_in_process:
            measure_in_process(str(project), rounds, calls, profile=args.profile)

        if not args.no_server:
            specs = {
                "raw": "bench_request:make_raw_app()",
                "falcon": "bench_request:make_falcon_app()",
                "epctl": f"bench_request:make_epctl_app({str(project)!r})",
                "werkzeug": "bench_request:make_werkzeug_app()",
                "flask": "bench_request:make_flask_app()",
            }
            print("\n2. gunicorn on 127.0.0.1, req/s")
            targets = {"sync": 0.0, "gthread": 0.9}
            for worker_class in args.workers.split(","):
                target = targets[worker_class]
                loads, tool = measure_servers(specs, workdir, worker_class, load_seconds, load_rounds)
                report_servers(worker_class, loads, load_rounds, tool, target)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
