"""Benchmark what observability costs a request: metrics + one JSON access line, against nothing.

Run: `python bench/bench_observability.py [--quick] [--single-process] [--no-server]` (`wrk` on PATH
for the load, else a Python load generator). Prints, in one run:

1. Per call, in microseconds of CPU time (best and median of the rounds): `Metrics.observe(record)`
   (in multiprocess mode added to sums in memory, the flusher thread's writes counted in this process's CPU
   time), `Metrics.count(record)` (the same request written at once, as without batching),
   `AccessLog.write(record)` as a JSON line to /dev/null, and observe and write together.
2. Per request to epctl's app (the JSON workflow route of `bench_request.py`, 100 routes), in-process,
   in rounds in which the variants take turns, each on an app of its own: the bare app (`create_app`,
   as `gunicorn "epctl.runtime:create_app(...)"` serves it); the app in `ObservedApp` with nothing
   switched on (request id, context and the app's hooks); the app as `epctl serve --log-format json
   --admin-port P` wraps it (`observe_app`: metrics and a JSON access line, here to /dev/null). The
   ratios observed/bare, best/best and the median of per-round ratios. Target: <= 1.1x.
3. Requests/second and the workers' CPU time per request under gunicorn (2 gthread workers, as
   `epctl serve --workers 2` runs them, 127.0.0.1) for the same route, the bare app next to the
   observed one (multiprocess metrics, a JSON line per request to gunicorn's log file), in rounds in
   which they take turns: what a client sees, HTTP and sockets included.

Metrics run in prometheus_client's multiprocess mode, as under gunicorn (every value written to a
memory-mapped file); `--single-process` measures the in-memory registry of a single-process server
instead. Nothing is asserted about wall-clock times: the figures compare within one run only.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGET_RATIO = 1.1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer and shorter rounds")
    parser.add_argument(
        "--single-process", action="store_true", help="metrics without a multiprocess directory"
    )
    parser.add_argument("--no-server", action="store_true", help="skip the gunicorn part")
    parser.add_argument(
        "--load-rounds",
        type=int,
        default=21,
        # Fewer cannot tell 1.05x from 1.10x here: the bare server alone moves 20% between rounds.
        help="rounds of load on each server (default 21, 3 s each)",
    )
    args = parser.parse_args(argv)
    if args.load_rounds < 1:
        parser.error(f"--load-rounds must be 1 or more, not {args.load_rounds}")
    rounds, calls = (5, 500) if args.quick else (31, 2000)
    load_seconds, load_rounds = (1.0, 1) if args.quick else (3.0, args.load_rounds)

    with tempfile.TemporaryDirectory(prefix="epctl-bench-") as work:
        if not args.single_process:
            # Before anything imports prometheus_client: its mode is fixed at import.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(work) / "metrics")
            from epctl.runtime.observability.metrics import prepare_metrics_directory

            prepare_metrics_directory()
        run(Path(work), rounds, calls, multiprocess=not args.single_process)
        if not args.no_server and not args.single_process:
            run_servers(Path(work), load_seconds, load_rounds)
    return 0


# What `epctl serve --workers N --log-format json --admin-port P` observes an app with: JSON lines,
# metrics, the lines written in batches.
SERVE_OBSERVATION = ("json", 0)


def make_observed_app(project_dir: str) -> object:
    """Return epctl's app observed exactly as `epctl serve --env production --workers N --log-format
    json --admin-port P` serves it: metrics and JSON access lines on stderr, written in batches
    (importable by gunicorn as `bench_observability:make_observed_app(...)`)."""
    from epctl.runtime.app import create_app
    from epctl.runtime.observed_apps import Observation, observe_app

    log_format, admin_port = SERVE_OBSERVATION
    observation = Observation(log_format, admin_port, buffered=True)
    return observe_app(create_app(project_dir), observation, "production")


def run_servers(work: Path, seconds: float, rounds: int) -> None:
    import bench_request as shared

    project = work / "project"
    specs = {
        "bare": f"bench_request:make_epctl_app({str(project)!r})",
        "observed": f"bench_observability:make_observed_app({str(project)!r})",
    }
    loads, tool = shared.measure_servers(specs, work, "gthread", seconds, rounds)
    print(f"\n3. gunicorn, 2 gthread workers (4 threads), GET {shared.JSON_PATH} on 127.0.0.1; "
          f"{rounds} rounds of: {tool}")  # fmt: skip
    print("   (req/s: best, median; workers' CPU us per request: best, median)")
    rates = {name: [load.requests_per_s for load in runs] for name, runs in loads.items()}
    cpu = {name: [load.cpu_us_per_request for load in runs] for name, runs in loads.items()}
    for name, runs in loads.items():
        errors = sum(load.errors for load in runs)
        note = f"  ({errors} errors: figures suspect)" if errors else ""
        print(f"   {name:24} {max(rates[name]):7.0f} {statistics.median(rates[name]):7.0f}   "
              f"{min(cpu[name]):6.0f} us {statistics.median(cpu[name]):6.0f} us{note}")  # fmt: skip
    for label, ratio in (
        ("time per request (1/req/s)", shared.paired_ratio(rates["bare"], rates["observed"])),
        ("workers' CPU per request", shared.paired_ratio(cpu["observed"], cpu["bare"])),
    ):
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(f"   observed/bare, {label}: median of per-round ratios {ratio:.2f}x "
              f"(target <= {TARGET_RATIO}x: {verdict})")  # fmt: skip


def run(work: Path, rounds: int, calls: int, *, multiprocess: bool) -> None:
    import bench_request as shared  # the project, environ and timing helpers of the request benchmark

    from epctl.runtime.app import create_app
    from epctl.runtime.observability.access_log import AccessLog, AccessRecord
    from epctl.runtime.observability.logs import configure_logging
    from epctl.runtime.observability.metrics import Metrics
    from epctl.runtime.observability.middleware import ObservedApp
    from epctl.runtime.observed_apps import Observation, observe_app

    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    configure_logging("json", devnull)
    access_log = AccessLog("json", devnull, buffered=True)  # as under --workers
    os.environ.setdefault("EPCTL_SECRET", "bench-secret-that-is-long-enough-for-hs256")
    project = shared.write_project(work / "project")
    metrics = Metrics("v1.0.0", "sha256:bench", "production")
    record = AccessRecord(
        time.time(), "0123456789abcdef0123456789abcdef", "GET", "/devices/42", "", 200, 0.00007,
        route="/devices/{id}", endpoint_id="device", response_bytes=61, version="v1.0.0",
        environment="production",
    )  # fmt: skip

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, metrics: "
          f"{'multiprocess (as under gunicorn)' if multiprocess else 'single process'}")  # fmt: skip
    print(f"\n1. Per call, CPU us ({rounds} rounds x {calls} calls; best, median)")
    per_call = time_calls(
        {
            "observe": lambda: metrics.observe(record),
            "count at once": lambda: metrics.count(record),
            "JSON access line": lambda: access_log.write(record),
            "both": lambda: (metrics.observe(record), access_log.write(record)),
        },
        rounds,
        calls,
    )
    for name, times in per_call.items():
        print(f"   {name:<24} {min(times):7.2f} us {statistics.median(times):7.2f} us")

    environ = shared.make_environ(shared.JSON_PATH)
    # An app each: wrapping an app switches its hooks on (`EpctlApp.observed`), and "bare" must not pay.
    bare = create_app(project)
    # The wrapper `epctl serve` puts around the app, its access lines sent to /dev/null instead of stderr.
    observed_on = observe_app(create_app(project), Observation("json", 0), "production")
    observed_on.access_log = access_log
    observed_off = ObservedApp(create_app(project), version="v1.0.0", environment="production")
    for each in (bare, observed_on, observed_off):
        assert shared.call_app(each, environ).status == "200 OK"
    loops = {
        "bare app": shared.make_request_loop(bare, environ),
        "observed, all off": shared.make_request_loop(observed_off, environ),
        "observed, metrics+JSON": shared.make_request_loop(observed_on, environ),
    }
    costs = shared.time_per_request(loops, rounds, calls)
    print(
        f"\n2. Per request to epctl's app, GET {shared.JSON_PATH}, CPU us "
        f"({rounds} rounds x {calls}; best, median)"
    )
    for name, times in costs.items():
        print(f"   {name:<24} {min(times):7.1f} us {statistics.median(times):7.1f} us")
    bare_costs = costs["bare app"]
    for name in ("observed, all off", "observed, metrics+JSON"):
        best = min(costs[name]) / min(bare_costs)
        paired = shared.paired_ratio(costs[name], bare_costs)
        verdict = "met" if paired <= TARGET_RATIO else "NOT met"
        print(f"   {name + '/bare':<29} {best:.2f}x best/best; median of per-round ratios {paired:.2f}x "
              f"(target <= {TARGET_RATIO}x: {verdict})")  # fmt: skip
    logging.shutdown()
    devnull.close()


def time_calls(
    calls_by_name: dict[str, Callable[[], object]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """Return {name: CPU microseconds per call in each round} (`bench_request.time_per_request`: this
    process's CPU time, so the workflow thread of a request counts, in rotating interleaved rounds)."""

    def repeat(function: Callable[[], object]) -> Callable[[int], None]:
        def loop(n: int) -> None:
            for _ in range(n):
                function()

        return loop

    import bench_request as shared

    loops = {name: repeat(function) for name, function in calls_by_name.items()}
    return shared.time_per_request(loops, rounds, calls)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main(sys.argv[1:]))
