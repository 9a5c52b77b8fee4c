"""Count the machine instructions one request costs, epctl next to its peers: ratios no noise moves.

Run: `python bench/bench_instructions.py [--requests 2000]` from the repo root (venv with
`pip install -e '.[test,bench]'`; needs valgrind: `apt-get install -y valgrind`). It runs itself once
under valgrind's callgrind, builds every app, warms each up, then calls each in turn `--requests`
times; callgrind writes a count at each boundary (at every `os.getppid()`), so each loop is counted
alone. Prints instructions per request and the ratios:

1. The JSON workflow reply of `bench_request.py` (GET /devices/42, 100 routes): lean Falcon (the
   target's reference), idiomatic Falcon (`resp.media`, `cors_enable`), epctl.
2. The page with layout and component: Falcon + Jinja2 (the same sandboxed templates), epctl.
3. What observability adds: epctl's app bare, and wrapped as `epctl serve --log-format json
   --admin-port P` wraps it (metrics in prometheus_client's multiprocess mode, one JSON line to
   /dev/null).
4. The same two served by gunicorn (one gthread worker, 4 threads, as `epctl serve --workers N`
   runs them) under callgrind, a keep-alive client sending the JSON request: the worker's
   instructions per request, HTTP parsing and gunicorn's own work included (`--no-server` skips it).
   Lean Falcon and the raw WSGI callable (fixed bytes: the server's own ceiling) are served the same
   way, for the gthread target (epctl's share of the ceiling) in a count no other load moves.
   The app is wrapped in a marker (a request to MARK_PATH calls `os.getsid`, where callgrind writes
   its count), so the count spans exactly the measured requests. The flusher (metrics, held access
   lines) writes every 0.1 s of wall time: under callgrind, which runs the worker tens of times
   slower, it would write that much more often per request than at full speed. So its period is
   stretched by the slowdown, measured in the same run against the same app served at full speed;
   the observed worker is also counted with the period as it is, and both are printed.

Instructions are not time: a cache miss costs more than an add, and callgrind runs the program about
fifty times slower. But they are the same on every run and on a busy machine, where the timing
benches (`bench_request.py`, `bench_observability.py`) spread by 30% between runs on this VM; the
two together say how much of a difference is real. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SUMMARY = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)
# The loops, in the order they run: one count file each, after the warm-up's.
LOOPS = (
    ("json", "falcon"),
    ("json", "falcon (media, cors)"),
    ("json", "epctl"),
    ("page", "falcon + jinja2"),
    ("page", "epctl"),
    ("observability", "epctl bare"),
    ("observability", "epctl observed (metrics + JSON line)"),
)
REFERENCES = {"json": "falcon", "page": "falcon + jinja2", "observability": "epctl bare"}
TITLES = {
    "json": "1. JSON workflow reply, GET /devices/42, 100 routes",
    "page": "2. Page with layout and component, GET /pages/devices/42?view=full",
    "observability": "3. Observability: the same JSON request, bare and as `epctl serve` observes it",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per app (default 2000)")
    parser.add_argument("--no-server", action="store_true", help="skip part 4 (gunicorn, about 8 minutes)")
    parser.add_argument("--inside", metavar="DIR", help=argparse.SUPPRESS)  # the run under valgrind
    args = parser.parse_args(argv)
    if args.inside:
        run_loops(Path(args.inside), args.requests)
        return 0
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind is not installed: apt-get install -y valgrind", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="epctl-bench-instructions-") as work:
        out = Path(work) / "callgrind.out"
        command = [
            valgrind,
            "--tool=callgrind",
            "--dump-before=getppid",
            "--cache-sim=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(Path(__file__).resolve()),
            "--inside",
            work,
            "--requests",
            str(args.requests),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stdout + done.stderr, file=sys.stderr)
            return 1
        # Count file 1 is everything before the first loop (imports, builds, warm-ups); then a file
        # per loop, in LOOPS order.
        counts = [read_instructions(Path(f"{out}.{index}")) for index in range(2, 2 + len(LOOPS))]
        report(counts, args.requests)
        if not args.no_server:
            sys.stdout.flush()
            count_all_served(valgrind, Path(work), args.requests)
    return 0


def read_instructions(path: Path) -> int:
    found = SUMMARY.search(path.read_text())
    if found is None:
        raise SystemExit(f"no instruction count in {path}")
    return int(found.group(1))


def report(counts: list[int], requests: int) -> None:
    per_request = {loop: count / requests for loop, count in zip(LOOPS, counts, strict=True)}
    print(f"Python {sys.version.split()[0]}; instructions per request (callgrind, {requests} requests each)")
    for part, title in TITLES.items():
        reference = per_request[(part, REFERENCES[part])]
        print(f"\n{title}")
        for (each, name), value in per_request.items():
            if each == part:
                print(f"   {name:40} {value / 1000:8.1f} K   {value / reference:5.2f}x")


def run_loops(work: Path, requests: int) -> None:
    """Build the apps, warm them up, and run each loop between two `os.getppid()` calls."""
    # Before anything imports prometheus_client: its mode is fixed at import.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(work / "metrics")
    os.environ.setdefault("EPCTL_SECRET", "bench-secret-that-is-long-enough-for-hs256")
    sys.path.insert(0, str(HERE))
    import bench_request as shared

    from epctl.runtime.app import create_app
    from epctl.runtime.observability.access_log import AccessLog
    from epctl.runtime.observability.metrics import prepare_metrics_directory
    from epctl.runtime.observed_apps import Observation, observe_app

    prepare_metrics_directory()
    project = shared.write_project(work / "project")
    falcon, idiomatic = shared.make_falcon_app(), shared.make_falcon_app(idiomatic=True)
    json_env = shared.make_environ(shared.JSON_PATH)
    page_env = shared.make_environ(shared.PAGE_PATH, shared.PAGE_QUERY)
    observed = observe_app(create_app(project), Observation("json", 0), "production")
    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    observed.access_log = AccessLog("json", devnull, buffered=True)  # as under --workers
    apps = {
        ("json", "falcon"): (falcon, json_env),
        ("json", "falcon (media, cors)"): (idiomatic, json_env),
        ("json", "epctl"): (create_app(project), json_env),
        ("page", "falcon + jinja2"): (falcon, page_env),
        ("page", "epctl"): (create_app(project), page_env),
        ("observability", "epctl bare"): (create_app(project), json_env),
        ("observability", "epctl observed (metrics + JSON line)"): (observed, json_env),
    }
    loops = [shared.make_request_loop(*apps[loop]) for loop in LOOPS]
    for loop in loops:
        loop(200)
    for loop in loops:
        os.getppid()  # callgrind writes the count so far, so the next loop is counted alone
        loop(requests)
    os.getppid()
    devnull.close()


# Part 4: what a request costs the worker that serves it, bare and observed, next to Falcon and raw.
MARK_PATH = "/__bench-mark"
# A request here sets the worker's flush period (metrics, held access lines) to the seconds its query gives.
FLUSH_PATH = "/__bench-flush-seconds"
WARM_UP_REQUESTS = 200
TIMED_REQUESTS = 200  # after the warm-up, to measure how fast the worker serves
# Under callgrind a worker imports and builds the app about fifty times slower than usual.
SERVED_BOOT_SECONDS = 600


def make_marked_app(variant: str, project_dir: str) -> object:
    """Return epctl's app, bare or observed as `epctl serve --log-format json --admin-port P` has it
    (or lean Falcon's, or the raw WSGI callable: `variant` "falcon", "raw"), behind the marker: a
    request to MARK_PATH calls `os.getsid` (callgrind's boundary) and gets 204 (importable by gunicorn
    as `bench_instructions:make_marked_app(...)`)."""
    import bench_observability
    import bench_request

    app: Any
    if variant == "bare":
        app = bench_request.make_epctl_app(project_dir)
    elif variant == "observed":
        app = bench_observability.make_observed_app(project_dir)
    elif variant == "falcon":
        app = bench_request.make_falcon_app()
    else:
        app = bench_request.make_raw_app()  # "raw": the server's own ceiling

    def marked(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == MARK_PATH:
            os.getsid(0)
            start_response("204 No Content", [])
            return []
        if environ["PATH_INFO"] == FLUSH_PATH:
            from epctl.runtime.observability import flushing

            # The flusher reads the period before each wait.
            flushing.FLUSH_SECONDS = float(str(environ["QUERY_STRING"]))
            start_response("204 No Content", [])
            return []
        return app(environ, start_response)  # type: ignore[no-any-return]

    return marked


def count_served(
    valgrind: str, work: Path, variant: str, requests: int, full_speed: float | None = None
) -> tuple[int, float]:
    """Return the instructions one gthread worker spent on `requests` JSON requests, serving `variant`
    under callgrind (the master too runs under it, but never reaches a mark), and how many times
    slower than `full_speed` (seconds a request) it served. With `full_speed`, the metrics flush period
    is stretched by that factor before the counted requests."""
    import bench_request as shared

    project = prepare_served_project(work)
    out = work / f"served-{variant}-{'stretched' if full_speed else 'as-is'}"
    prefix = [valgrind, "--tool=callgrind", "--dump-before=getsid", "--cache-sim=no",
              f"--callgrind-out-file={out}.%p"]  # fmt: skip
    with serve_marked(work, out.name, variant, project, prefix) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        send_requests(connection, shared.JSON_PATH, WARM_UP_REQUESTS)
        slowdown = time_requests(connection, shared.JSON_PATH) / full_speed if full_speed else 0.0
        if full_speed:
            from epctl.runtime.observability.flushing import FLUSH_SECONDS

            send_requests(connection, f"{FLUSH_PATH}?{FLUSH_SECONDS * slowdown:.3f}", 1)
        send_requests(connection, MARK_PATH, 1)
        send_requests(connection, shared.JSON_PATH, requests)
        send_requests(connection, MARK_PATH, 1)
        connection.close()
    # The worker's second count file spans the two marks; only the worker ever reaches one.
    between = sorted(work.glob(f"{out.name}.*.2"))
    if len(between) != 1:
        raise SystemExit(f"expected one worker's count between the marks, found {between}")
    return read_instructions(between[0]), slowdown


def time_full_speed(work: Path, variant: str) -> float:
    """Return the seconds a JSON request takes the same worker as `count_served`'s, at full speed."""
    import bench_request as shared

    project = prepare_served_project(work)
    with serve_marked(work, f"full-speed-{variant}", variant, project, prefix=[]) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        send_requests(connection, shared.JSON_PATH, WARM_UP_REQUESTS)
        seconds = min(time_requests(connection, shared.JSON_PATH) for _ in range(5))
        connection.close()
    return seconds


def prepare_served_project(work: Path) -> Path:
    sys.path.insert(0, str(HERE))
    import bench_request as shared

    project = work / "served-project"
    if not project.exists():
        shared.write_project(project)
    return project


@contextlib.contextmanager
def serve_marked(work: Path, name: str, variant: str, project: Path, prefix: list[str]) -> Iterator[Any]:
    """Serve `variant` behind the marker with one gthread worker (under `prefix`), and its own metrics
    directory, as `epctl serve --workers` would make."""
    import bench_request as shared

    metrics = work / f"{name}-metrics"
    metrics.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    spec = f"bench_instructions:make_marked_app({variant!r}, {str(project)!r})"
    # Under callgrind a worker this slow must not be taken for a stuck one.
    with shared.run_gunicorn(
        name, spec, work, "gthread", workers=1, prefix=prefix,
        options=["--timeout", str(SERVED_BOOT_SECONDS)], boot_timeout=SERVED_BOOT_SECONDS,
    ) as server:  # fmt: skip
        shared.wait_until_serving(server, shared.JSON_PATH, timeout=SERVED_BOOT_SECONDS)
        yield server


def time_requests(connection: http.client.HTTPConnection, path: str) -> float:
    """Return the seconds a request of TIMED_REQUESTS to `path` took, one after the other."""
    started = time.perf_counter()
    send_requests(connection, path, TIMED_REQUESTS)
    return (time.perf_counter() - started) / TIMED_REQUESTS


def send_requests(connection: http.client.HTTPConnection, path: str, count: int) -> None:
    """Send `count` GET requests one after the other on one keep-alive connection."""
    for _ in range(count):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        if response.status not in (200, 204):
            raise SystemExit(f"GET {path} answered {response.status}")


def count_all_served(valgrind: str, work: Path, requests: int) -> None:
    """Part 4: count and print the raw callable's worker, lean Falcon's, epctl's bare one, the
    observed one with the flush period stretched by callgrind's slowdown, and the observed one with
    the period as it is."""
    full_speed = time_full_speed(work, "observed")
    raw, _ = count_served(valgrind, work, "raw", requests)
    falcon, _ = count_served(valgrind, work, "falcon", requests)
    bare, _ = count_served(valgrind, work, "bare", requests)
    observed, slowdown = count_served(valgrind, work, "observed", requests, full_speed)
    as_is, _ = count_served(valgrind, work, "observed", requests)
    print("\n4. Served by gunicorn (1 gthread worker, 4 threads), the JSON request on a keep-alive")
    print("   connection: the worker's instructions per request (the kernel's side of sockets and writes")
    print("   is not counted)")
    rows = (
        ("epctl bare", bare),
        ("epctl observed (metrics + JSON line)", observed),
        ("  the same, flush period not stretched", as_is),
    )
    for label, count in rows:
        print(f"   {label:40} {count / requests / 1000:8.1f} K   {count / bare:5.2f}x")
    from epctl.runtime.observability.flushing import FLUSH_SECONDS

    stretched, micros = FLUSH_SECONDS * slowdown, full_speed * 1e6
    print(f"   (callgrind served {slowdown:.0f}x slower than full speed, {micros:.0f} us a request.")
    print(f"   The first observed row flushes every {stretched:.1f} s, as often per request")
    print(f"   as at full speed; the second every {FLUSH_SECONDS} s, {slowdown:.0f} times as often.)")
    print("\n   The server's ceiling: the raw WSGI callable's instructions per request as a share of each")
    print("   app's (the gthread target is epctl >= 0.9x)")
    for label, count in (("raw WSGI (fixed bytes)", raw), ("falcon", falcon), ("epctl bare", bare)):
        print(f"   {label:40} {count / requests / 1000:8.1f} K   {raw / count:5.2f}x")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
