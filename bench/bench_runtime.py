"""Benchmark epctl's WSGI runtime against hand-written werkzeug, werkzeug + Jinja2 and Flask apps.

Run: `python bench/bench_runtime.py [--quick] [--profile]` (needs gunicorn; Flask, from the `bench`
extra, for the Flask row; `wrk` on PATH for the load, else a Python load generator). Prints, in one run:

1. In-process cost per request (no sockets: the WSGI callable is called with a prepared environ and
   the body is consumed), best and median of N rounds in which the apps take turns, for
   - a JSON workflow reply on epctl next to a bare werkzeug app doing the same work,
   - a page with a layout and a component on epctl next to werkzeug + Jinja2 with the same templates,
   with the ratios epctl/werkzeug (best/best, and the median of per-round ratios). Target: both
   ratios <= 1.2.
2. Requests/second under gunicorn (2 sync workers, 127.0.0.1, an ephemeral port) for the same JSON
   route on epctl, the bare werkzeug app and Flask, with the ratios epctl/werkzeug and epctl/flask.

`--quick` is a smoke run (fewer rounds, 1-second loads); `--profile` adds the top cProfile costs of
epctl's request path for both in-process requests. Nothing is asserted about wall-clock times: the
figures are only comparable within one run on one machine.

Every app here is importable (`bench_runtime:make_werkzeug_app()` and so on), which is how the gunicorn
part loads them: one definition serves both parts, so both measure the same apps.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from epctl.runtime.app import create_app

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

TARGET_RATIO = 1.2
ORIGIN = "https://shop.example.com"  # in allowed_origins: every reply echoes it, as a browser app sees
JSON_PATH = "/api/items/42"
PAGE_PATH = "/items/42"
PAGE_QUERY = "view=full"
# What the project's settings declare; the baseline apps hard-code the same values.
RESPONSE_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}
APPLICATION = {"name": "bench-shop"}
GLOBALS = {
    "company": "Bench Shop Ltd.",
    "support_email": "help@shop.example.com",
    "tags": ["new", "popular", "sale"],
}

# -- the project and the templates ---------------------------------------------------------------
EPCTL_TOML = f"""\
[project]
name = "{APPLICATION["name"]}"

[settings]
cors = true
allowed_origins = ["{ORIGIN}"]
response_headers = {{ "X-Frame-Options" = "DENY", "X-Content-Type-Options" = "nosniff" }}
globals = {{ company = "{GLOBALS["company"]}", support_email = "{GLOBALS["support_email"]}", \
tags = ["new", "popular", "sale"] }}
"""

ENDPOINTS_TOML = """\
[[endpoint]]
id = "api-item"
method = "GET"
route = "/api/items/{id}"

[[endpoint]]
id = "item-page"
method = "GET"
route = "/items/{id}"
reply = { type = "page", page = "item" }
"""

PAGES_TOML = """\
[[layout]]
name = "main"
template = "templates/main.html"

[[component]]
name = "footer"
template = "templates/footer.html"

[[page]]
name = "item"
layout = "main"
template = "templates/item.html"
"""

WORKFLOWS_TOML = """\
[[workflow]]
name = "show-item"
handler = "items.py:show_item"
endpoints = ["api-item"]
"""

# The handler and `item_payload` below must build the same dict: `check_apps` compares the replies.
WORKFLOW_PY = """\
def show_item(request):
    item_id = request.params["id"]
    return {"id": item_id, "name": f"Item {item_id}", "links": {"self": f"/api/items/{item_id}"}}
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
{% block title %}Item {{ request.params.id }}{% endblock %}
{% block content %}
<h1>Item {{ request.params.id }}</h1>
<p>Asked for as {{ request.method }} {{ request.path }}{% if request.query.view %}, \
{{ request.query.view }} view{% endif %}.</p>
<ul>{% for tag in globals.tags %}<li>{{ tag }}</li>{% endfor %}</ul>
{% endblock %}
"""


def write_project(root: Path) -> Path:
    """Write the epctl project the benchmark serves into `root` and return `root`."""
    for folder in ("endpoints", "pages/templates", "workflows"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "epctl.toml").write_text(EPCTL_TOML)
    (root / "endpoints" / "items.toml").write_text(ENDPOINTS_TOML)
    (root / "pages" / "site.toml").write_text(PAGES_TOML)
    (root / "pages" / "templates" / "main.html").write_text(LAYOUT_HTML)
    (root / "pages" / "templates" / "footer.html").write_text(FOOTER_HTML)
    (root / "pages" / "templates" / "item.html").write_text(PAGE_HTML)
    (root / "workflows" / "items.toml").write_text(WORKFLOWS_TOML)
    (root / "workflows" / "items.py").write_text(WORKFLOW_PY)
    return root


# -- the apps (importable by gunicorn as `bench_runtime:make_...()`) -------------------------------
def make_epctl_app(project_dir: str) -> WsgiApp:
    """Return epctl's app for the develop version of the project in `project_dir`."""
    return create_app(project_dir)


def item_payload(params: dict[str, str]) -> dict[str, Any]:
    """Return the JSON reply of `/api/items/{id}`: the same dict the project's workflow builds."""
    item_id = params["id"]
    return {"id": item_id, "name": f"Item {item_id}", "links": {"self": f"/api/items/{item_id}"}}


def add_common_headers(request: Request, response: Response) -> None:
    """Add what epctl adds to every reply of the project: CORS for an allowed origin, response headers."""
    if request.headers.get("Origin") == ORIGIN:
        response.headers["Access-Control-Allow-Origin"] = ORIGIN
        response.vary.add("Origin")
    for name, value in RESPONSE_HEADERS.items():
        response.headers[name] = value


def make_werkzeug_app() -> WsgiApp:
    """Return a bare werkzeug app with the same two routes: what a hand-written equivalent would do.

    Its Jinja2 environment is the plain (non-sandboxed) one with autoescape, templates from a DictLoader
    under the same names, compiled on first use and cached as usual.
    """
    import jinja2

    url_map = Map(
        [
            Rule("/api/items/<id>", endpoint="item", methods=["GET"]),
            Rule("/items/<id>", endpoint="item-page", methods=["GET"]),
        ]
    )
    env = jinja2.Environment(
        loader=jinja2.DictLoader(
            {
                "main": LAYOUT_HTML,
                "footer": FOOTER_HTML,
                # epctl puts the `extends` in front of a page with a layout; a Jinja app writes it.
                "item": '{% extends "main" %}' + PAGE_HTML,
            }
        ),
        autoescape=True,
    )

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, params = url_map.bind_to_environ(environ).match()
            if endpoint == "item":
                body = json.dumps(item_payload(params), ensure_ascii=False, separators=(",", ":"))
                response = Response(body, content_type="application/json")
            else:
                context = {
                    "time": datetime.now(UTC),
                    "application": APPLICATION,
                    "globals": GLOBALS,
                    "request": {
                        "path": request.path,
                        "method": request.method,
                        "params": params,
                        "query": request.args.to_dict(),
                    },
                }
                text = env.get_template("item").render(context)
                response = Response(text, content_type="text/html; charset=utf-8")
        except HTTPException as err:
            response = err.get_response(environ)  # type: ignore[assignment]
        add_common_headers(request, response)
        return response(environ, start_response)

    return app


def make_flask_app() -> WsgiApp:
    """Return a Flask app serving the JSON route with the same headers."""
    from flask import Flask, request

    app = Flask("bench_flask")

    @app.get("/api/items/<id>")
    def show_item(**params: str) -> dict[str, Any]:
        return item_payload(params)

    @app.after_request
    def add_headers(response: Response) -> Response:
        add_common_headers(request, response)
        return response

    return app


def import_flask() -> bool:
    """Return whether Flask is installed (the `bench` extra); the Flask row is skipped without it."""
    try:
        import flask  # noqa: F401
    except ImportError:
        return False
    return True


# -- part 1: in-process cost per request ---------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    status: str
    headers: dict[str, str]
    body: bytes


def make_environ(path: str, query: str = "") -> dict[str, Any]:
    """Return a WSGI environ for `GET path?query` from a browser app on ORIGIN."""
    environ = EnvironBuilder(path=path, query_string=query, headers={"Origin": ORIGIN}).get_environ()
    if query:
        environ["RAW_URI"] = environ["REQUEST_URI"] = f"{path}?{query}"  # as gunicorn sets it
    return environ


def call_app(app: WsgiApp, environ: dict[str, Any]) -> Reply:
    """Call `app` like a WSGI server does: start_response, consume the body, close the iterable."""
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


def make_request_loop(app: WsgiApp, environ: dict[str, Any]) -> Callable[[int], None]:
    """Return a function making `n` requests to `app`, as lean as possible so the app's cost dominates.

    Each call gets its own copy of the environ (an app may write into it) and a trivial start_response.
    """

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


def check_apps(epctl: WsgiApp, werkzeug: WsgiApp, flask: WsgiApp | None) -> None:
    """Raise AssertionError unless the apps answer both requests alike, so a broken app cannot look fast."""
    json_env, page_env = make_environ(JSON_PATH), make_environ(PAGE_PATH, PAGE_QUERY)
    expected = item_payload({"id": "42"})
    for name, app in (("epctl", epctl), ("werkzeug", werkzeug), ("flask", flask)):
        if app is None:
            continue
        reply = call_app(app, json_env)
        assert reply.status == "200 OK", (name, reply)
        assert json.loads(reply.body) == expected, (name, reply.body)
        assert reply.headers["content-type"] == "application/json", (name, reply.headers)
        assert reply.headers["access-control-allow-origin"] == ORIGIN, (name, reply.headers)
        assert all(reply.headers[h.lower()] == v for h, v in RESPONSE_HEADERS.items()), (name, reply.headers)
    pages = [call_app(app, page_env) for app in (epctl, werkzeug)]
    for name, reply in zip(("epctl", "werkzeug+jinja"), pages, strict=True):
        assert reply.status == "200 OK", (name, reply)
        assert reply.headers["content-type"] == "text/html; charset=utf-8", (name, reply.headers)
        assert reply.headers["access-control-allow-origin"] == ORIGIN, (name, reply.headers)
        text = reply.body.decode()
        for part in ("<title>Item 42</title>", "GET /items/42, full view", "<li>sale</li>", "<footer>"):
            assert part in text, (name, part, text)
    # Same templates, same values: the two pages differ at most in the rendered minute.
    strip = re.compile(rb"rendered [^<]*UTC")
    assert strip.sub(b"", pages[0].body) == strip.sub(b"", pages[1].body), pages


def time_per_request(
    loops: dict[str, Callable[[int], None]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """Return {name: microseconds per request in each of `rounds` rounds of `calls` requests per app}.

    The apps take turns within each round, in a rotating order, so a slow patch of a shared machine
    (a VM's speed can swing by half for seconds) hits all of them alike.
    """
    for loop in loops.values():
        loop(max(1, calls // 10))  # warm caches (template compilation, werkzeug's cached properties)
    times: dict[str, list[float]] = {name: [] for name in loops}
    names = list(loops)
    for turn in range(rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            start = time.perf_counter()
            loops[name](calls)
            times[name].append((time.perf_counter() - start) / calls * 1e6)
    return times


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Return the median of the per-round ratios: measured close together, each pair saw the same
    machine, so this is the estimate least moved by slow patches (best/best is the other one)."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def profile_requests(app: WsgiApp, environ: dict[str, Any], calls: int, top: int) -> str:
    """Return cProfile's top `top` functions by own time over `calls` requests, and by cumulative time."""
    loop = make_request_loop(app, environ)
    loop(100)
    profiler = cProfile.Profile()
    profiler.runcall(loop, calls)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# -- part 2: requests/second under gunicorn ------------------------------------------------------
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BOOTED = re.compile(r"Booting worker with pid")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def run_gunicorn(name: str, app_spec: str, workdir: Path, workers: int = 2) -> Iterator[Server]:
    """Run gunicorn serving `app_spec` (`module:factory(...)`) on 127.0.0.1 at an ephemeral port.

    Yields once the port is known and every worker has booted; always terminates gunicorn on exit.
    """
    run_dir = workdir / f"run-{name}"
    run_dir.mkdir()
    log = workdir / f"gunicorn-{name}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        "127.0.0.1:0",  # the kernel picks a free port; gunicorn's log says which
        "--pythonpath",
        str(Path(__file__).resolve().parent),
        "--error-logfile",
        "-",
        "--log-level",
        "info",
        app_spec,
    ]
    # gunicorn >= 25.1 opens a control socket in $XDG_RUNTIME_DIR (else one path per user): a directory
    # of its own per server keeps the three servers, and any other gunicorn on the host, apart.
    environment = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as log_file:
        # stderr to a file, not a pipe: nobody reads a pipe during the load, and a full one would block.
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=environment)
    try:
        port = wait_for_gunicorn(process, log, workers)
        yield Server(name, port, process, log)
    finally:
        stop_process(process)


def wait_for_gunicorn(process: subprocess.Popen[bytes], log: Path, workers: int, timeout: float = 30) -> int:
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


def wait_until_serving(server: Server, path: str, timeout: float = 30) -> None:
    """Return once `GET path` answers 200: workers import the app only after gunicorn logs their boot.

    Raises RuntimeError when gunicorn exits first (an app that fails to import makes it stop) or
    answers something else, OSError when it still refuses connections after `timeout` seconds.
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
            connection.request("GET", path, headers={"Origin": ORIGIN})
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


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    errors: int  # non-2xx replies and socket errors: a non-zero count makes the figure suspect


def load_with_wrk(wrk: str, port: int, path: str, seconds: float, connections: int, threads: int) -> Load:
    """Return wrk's requests/second for `GET path` on 127.0.0.1:`port`."""
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "-H",
        f"Origin: {ORIGIN}",
        f"http://127.0.0.1:{port}{path}",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Load(float(rate.group(1)), errors + (int(non_2xx.group(1)) if non_2xx else 0))


def load_with_python(port: int, path: str, seconds: float, connections: int) -> Load:
    """Return requests/second from `connections` threads, each with a keep-alive HTTP connection.

    The fallback when wrk is missing: the client shares the GIL, so absolute figures are lower than
    wrk's, but every server is measured with the same client.
    """
    counts = [0] * connections
    errors = [0] * connections
    deadline = time.perf_counter() + seconds

    def run(slot: int) -> None:
        # gunicorn's sync workers close every connection; http.client then reconnects on its own.
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
    return Load(sum(counts) / (time.perf_counter() - start), sum(errors))


def measure_servers(
    specs: dict[str, str], workdir: Path, seconds: float, rounds: int
) -> tuple[dict[str, list[Load]], str]:
    """Return ({name: its load in each of `rounds` rounds}, load tool description).

    Every server is up at once and idles while another is loaded; they take turns in each round, in a
    rotating order, so a slow patch of a shared machine hits all of them alike.
    """
    wrk = shutil.which("wrk")
    if wrk:
        tool = f"wrk -t2 -c16 -d{max(1, round(seconds))}s"

        def load(port: int, duration: float) -> Load:
            return load_with_wrk(wrk, port, JSON_PATH, duration, connections=16, threads=2)
    else:
        tool = f"python http.client, 8 threads, {seconds:g} s (wrk not on PATH)"

        def load(port: int, duration: float) -> Load:
            return load_with_python(port, JSON_PATH, duration, connections=8)

    loads: dict[str, list[Load]] = {name: [] for name in specs}
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(run_gunicorn(name, spec, workdir)) for name, spec in specs.items()]
        for server in servers:
            wait_until_serving(server, JSON_PATH)
            load(server.port, 1)  # warm-up, not recorded: workers' first requests, caches
        for turn in range(rounds):
            for server in servers[turn % len(servers) :] + servers[: turn % len(servers)]:
                loads[server.name].append(load(server.port, seconds))
    return loads, tool


# -- main -----------------------------------------------------------------------------------------
def format_ratio(ratio: float, target: float | None = None) -> str:
    if target is None:
        return f"{ratio:.2f}x"
    return f"{ratio:.2f}x (target <= {target:.1f}x: {'met' if ratio <= target else 'NOT met'})"


def report_in_process(costs: dict[str, list[float]], rounds: int, calls: int) -> None:
    """Print part 1: best and median us/request per app, and the two target ratios."""
    print(f"\n1. In-process, us/request ({rounds} rounds x {calls} requests; best, median)")
    for name, times in costs.items():
        print(f"   {name:22} {min(times):8.1f} us {statistics.median(times):8.1f} us")
    for label, ours, theirs in (
        ("JSON  epctl/werkzeug      ", "epctl json", "werkzeug json"),
        ("page  epctl/werkzeug+jinja", "epctl page", "werkzeug+jinja page"),
    ):
        best = min(costs[ours]) / min(costs[theirs])
        paired = paired_ratio(costs[ours], costs[theirs])
        print(f"   {label} {format_ratio(best, TARGET_RATIO)}; median of per-round ratios {paired:.2f}x")


def report_servers(loads: dict[str, list[Load]], rounds: int, tool: str) -> None:
    """Print part 2: best and median req/s per server, and epctl's ratios to the others."""
    print(f"\n2. gunicorn, 2 sync workers, GET {JSON_PATH} on 127.0.0.1; {rounds} rounds of: {tool}")
    print("   (req/s: best, median)")
    rates = {name: [load.requests_per_s for load in runs] for name, runs in loads.items()}
    for name, runs in loads.items():
        errors = sum(load.errors for load in runs)
        note = f"  ({errors} errors: figures suspect)" if errors else ""
        print(f"   {name:10} {max(rates[name]):9.0f} {statistics.median(rates[name]):9.0f}{note}")
    for other in ("werkzeug", "flask"):
        if other in rates:
            best = max(rates["epctl"]) / max(rates[other])
            paired = paired_ratio(rates["epctl"], rates[other])
            print(
                f"   epctl/{other:9} {format_ratio(best)} the req/s; median of per-round ratios {paired:.2f}x"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer rounds, 1-second loads")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top costs of epctl")
    parser.add_argument("--no-server", action="store_true", help="skip the gunicorn part")
    args = parser.parse_args(argv[1:])
    # Many short rounds rather than a few long ones: the minimum then finds the machine's quiet spells.
    rounds, calls = (3, 500) if args.quick else (15, 2_000)
    load_seconds, load_rounds = (1.0, 1) if args.quick else (3.0, 5)

    has_flask = import_flask()
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"{'quick' if args.quick else 'full'} run"
    )
    workdir = Path(tempfile.mkdtemp(prefix="epctl-bench-runtime-"))
    try:
        project = write_project(workdir / "project")
        epctl, werkzeug = make_epctl_app(str(project)), make_werkzeug_app()
        flask = make_flask_app() if has_flask else None
        check_apps(epctl, werkzeug, flask)

        json_env, page_env = make_environ(JSON_PATH), make_environ(PAGE_PATH, PAGE_QUERY)
        loops = {
            "epctl json": make_request_loop(epctl, json_env),
            "werkzeug json": make_request_loop(werkzeug, json_env),
            "epctl page": make_request_loop(epctl, page_env),
            "werkzeug+jinja page": make_request_loop(werkzeug, page_env),
        }
        if flask is not None:
            loops["flask json"] = make_request_loop(flask, json_env)  # for context only: no target
        report_in_process(time_per_request(loops, rounds, calls), rounds, calls)

        if args.profile:
            for label, environ in (("JSON", json_env), ("page", page_env)):
                print(f"\n   cProfile, epctl {label} request path ({calls} requests):")
                print(profile_requests(epctl, environ, calls, top=25))

        if not args.no_server:
            specs = {
                "epctl": f"bench_runtime:make_epctl_app({str(project)!r})",
                "werkzeug": "bench_runtime:make_werkzeug_app()",
            }
            if has_flask:
                specs["flask"] = "bench_runtime:make_flask_app()"
            loads, tool = measure_servers(specs, workdir, load_seconds, load_rounds)
            report_servers(loads, load_rounds, tool)
            if not has_flask:
                print("   flask: not installed (pip install -e '.[bench]'), skipped")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
