"""Two epctl checkouts side by side: is a change any slower? Interleaved rounds, medians, ratios.

Each figure is measured in a new process of each checkout's own Python, the two taking turns in
every round, on the same inputs (written by this tree's bench scripts):

- router: building a 10,000-route table (parse + add) and the mean match at 10,000 routes, with what
  the server matches with (`Router` where the checkout has one, else `RouteTable`);
- request: the in-process cost of `GET /devices/42` (a JSON workflow reply) through `create_app`, as
  `bench_request.py` builds it;
- validate: the wall time of `epctl validate` on `bench_validate.py`'s 10,000-endpoint project.

Usage: `python bench/bench_before_after.py --base /path/to/old/venv/bin/python [--rounds 5]`, run
from this tree's virtualenv. The base checkout must be installed in that virtualenv (`pip install -e`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# Runs in the measured checkout's Python; prints one JSON object. Only names both old and new
# checkouts have (`parse_route`, `RouteTable`, `create_app`), or `Router` where it is what serving uses.
PROBE = """
import json, sys, time
sys.path.insert(0, {bench!r})
from bench_routing import generate_routes, generate_requests
from epctl.schemas.routing import RouteTable, parse_route
try:  # what the server matches with: the Router where there is one, else the RouteTable
    from epctl.schemas.routing import Router as RouteTable
except ImportError:
    pass
routes = generate_routes(10_000)
start = time.process_time()
table = RouteTable()
for method, path in routes:
    table.add(method, parse_route(path), path)
build = time.process_time() - start
requests = generate_requests(10_000)
for method, path in requests:
    assert table.match(method, path).status == 200, path
best = float("inf")
for _ in range(7):
    start = time.process_time()
    for _ in range(20):
        for method, path in requests:
            table.match(method, path)
    best = min(best, (time.process_time() - start) / (20 * len(requests)))
from bench_request import JSON_PATH, make_environ
from epctl.runtime import create_app
app = create_app({project!r})
environ = make_environ(JSON_PATH)
statuses = []
def start_response(status, headers, exc_info=None):
    statuses.append(status)
b"".join(app(dict(environ), start_response))
assert statuses == ["200 OK"], statuses
request = float("inf")
for _ in range(7):
    start = time.process_time()
    for _ in range(2000):
        b"".join(app(dict(environ), start_response))
    request = min(request, (time.process_time() - start) / 2000)
print(json.dumps({{"build_s": build, "match_us": best * 1e6, "request_us": request * 1e6}}))
"""


def measure_probe(python: str, project: Path) -> dict[str, float]:
    """Return the router and request figures of the checkout installed for `python`."""
    code = PROBE.format(bench=str(BENCH), project=str(project))
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{python}: the probe failed:\n{done.stderr.strip()}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def measure_validate(python: str, project: Path) -> float:
    """Return the wall seconds of `epctl validate` of `project`, run by `python`'s epctl."""
    epctl = str(Path(python).parent / "epctl")
    start = time.perf_counter()
    done = subprocess.run([epctl, "--project", str(project), "validate"], capture_output=True, timeout=600)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{epctl} validate failed:\n{done.stdout.decode()}{done.stderr.decode()}")
    return elapsed


def write_inputs(folder: Path) -> tuple[Path, Path]:
    """Write the request bench's project and the 10,000-endpoint validate project under `folder`."""
    sys.path.insert(0, str(BENCH))
    import bench_request
    import bench_routing
    import bench_validate

    request_project = bench_request.write_project(folder / "request")
    validate_project = folder / "validate"
    validate_project.mkdir()
    bench_validate.write_project(validate_project, bench_routing.generate_routes(10_000))
    return request_project, validate_project


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the Python of a virtualenv with the old checkout")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args(argv[1:])
    pythons = {"base": args.base, "this": sys.executable}
    figures: dict[str, dict[str, list[float]]] = {name: {} for name in pythons}
    with tempfile.TemporaryDirectory() as temporary:
        request_project, validate_project = write_inputs(Path(temporary))
        for round_ in range(args.rounds):
            order = list(pythons) if round_ % 2 == 0 else list(reversed(pythons))
            for name in order:
                probe = measure_probe(pythons[name], request_project)
                probe["validate_s"] = measure_validate(pythons[name], validate_project)
                for key, value in probe.items():
                    figures[name].setdefault(key, []).append(value)
    print(f"{args.rounds} interleaved rounds; medians (CPU time, but validate: wall); ratio = this / base")
    labels = {
        "build_s": ("router build, 10,000 routes", "s"),
        "match_us": ("match at 10,000 routes", "us"),
        "request_us": ("JSON request in-process", "us"),
        "validate_s": ("epctl validate, 10,000 endpoints", "s"),
    }
    print(f"   {'figure':34} {'base':>10} {'this':>10} {'ratio':>7}")
    for key, (label, unit) in labels.items():
        base = statistics.median(figures["base"][key])
        this = statistics.median(figures["this"][key])
        print(f"   {label:34} {base:>8.2f}{unit:>2} {this:>8.2f}{unit:>2} {this / base:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
