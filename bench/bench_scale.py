"""Scale: validate, snapshot, serve start and diff of projects of 1,000, 10,000 and 100,000 endpoints.

Run: `python bench/bench_scale.py [--sizes 1000,10000,100000] [--runs 2]` from the repo root. For each
size it writes a project (1,000 endpoints a file, the ten kinds of route of `bench_routing.py`, a page
reply on nine endpoints in ten and a workflow on the tenth), then runs each step in a new process, as a
user runs it, and records its wall time and peak memory (the child's own `ru_maxrss`, from `wait4`):

- validate:    `epctl validate`
- floor:       what no `validate` on this stack can skip: a process that imports the libraries it
               needs (typer with the pydantic types it coerces options through, Jinja2's sandbox) and
               parses every TOML file of the project with tomli, and does nothing else
- snapshot:    `epctl snapshot v1` (validate develop, write the version file)
- serve start: a process that imports epctl and builds develop's app (`create_app`), as `epctl serve`
               and a gunicorn master do before they answer; its in-process `create_app` time too
- diff:        `epctl diff v1 develop` after one endpoint of develop changed

It prints each figure per size and the growth from one size to the next (x10 endpoints: near x10 is
linear). Wall time is what a user waits; CPU time (user + system, also from `wait4`) is what the step
would take on a quiet machine when others' work slows this one. Targets: validate of 10,000 endpoints
<= 0.7 s, of 100,000 <= 10x that. The best of `--runs` runs is kept (the least disturbed by other work
on the machine). Nothing is asserted about times.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_routing import generate_routes

PER_FILE = 1_000
STEPS = ("validate", "floor", "snapshot", "serve start", "diff")


def write_project(root: Path, n: int) -> None:
    """Write a project of `n` endpoints, PER_FILE a file, with one page and one workflow."""
    routes = generate_routes(n)
    for folder in ("endpoints", "pages", "workflows"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "epctl.toml").write_text('[project]\nname = "scale"\n')
    (root / "pages" / "p.toml").write_text('[[page]]\nname = "p"\nbody = "<p>{{ request.path }}</p>"\n')
    workflow_endpoints = []
    for start in range(0, n, PER_FILE):
        chunks = []
        for index in range(start, min(start + PER_FILE, n)):
            method, path = routes[index]
            endpoint = f'[[endpoint]]\nid = "e{index}"\nmethod = "{method}"\nroute = "{path}"\n'
            if index % 10:
                endpoint += 'reply = { type = "page", page = "p" }\n'
            else:
                workflow_endpoints.append(f"e{index}")
            chunks.append(endpoint)
        (root / "endpoints" / f"part{start // PER_FILE:03d}.toml").write_text("\n".join(chunks))
    ids = ", ".join(f'"{e}"' for e in workflow_endpoints)
    (root / "workflows" / "w.toml").write_text(
        f'[[workflow]]\nname = "w"\nhandler = "w.py:run"\nendpoints = [{ids}]\n'
    )
    (root / "workflows" / "w.py").write_text("def run(request):\n    return {'ok': True}\n")


def change_one_endpoint(root: Path) -> None:
    """Give develop one difference from the snapshot: the first endpoint gets a description."""
    first = root / "endpoints" / "part000.toml"
    first.write_text(first.read_text().replace('id = "e0"\n', 'id = "e0"\ndescription = "changed"\n', 1))


@dataclass
class Run:
    seconds: float  # wall time
    cpu_s: float  # user + system CPU time: on a busy machine, what the step would take on a quiet one
    peak_mb: float
    inner_s: float | None = None  # what the process measured itself (create_app), when it says


def run_process(command: list[str], expect: tuple[int, ...] = (0,)) -> Run:
    """Run `command` and return its wall time and peak resident memory; raise on another exit code."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # wait4 gives this child's own resource usage, where getrusage(RUSAGE_CHILDREN) would give the
    # largest of every child so far. The pipes are read after it exits: outputs here are small.
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    out = process.stdout.read().decode() if process.stdout else ""
    err = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in expect:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{err[-3000:]}")
    inner = None
    for line in out.splitlines():
        if line.startswith("create_app "):
            inner = float(line.split()[1])
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss / 1024, inner)  # ru_maxrss is in KiB on Linux


SERVE_START = """\
import sys, time
from epctl.runtime import create_app
start = time.perf_counter()
app = create_app(sys.argv[1])
print("create_app", time.perf_counter() - start)
"""

FLOOR = """\
import sys
from pathlib import Path
import typer, typer._adapters, jinja2.sandbox, tomli
for path in sorted(Path(sys.argv[1]).rglob("*.toml")):
    tomli.loads(path.read_text())
"""


def measure_size(workdir: Path, n: int, runs: int) -> dict[str, Run]:
    """Return the best run of each step on a project of `n` endpoints."""
    root = workdir / f"project-{n}"
    write_project(root, n)
    epctl = str(Path(sys.executable).parent / "epctl")
    best: dict[str, Run] = {}

    def keep(step: str, run: Run) -> None:
        if step not in best or run.seconds < best[step].seconds:
            best[step] = run

    for attempt in range(runs):
        if attempt:
            # Each run starts from the same develop: no versions, no change yet.
            shutil.rmtree(root)
            write_project(root, n)
        keep("validate", run_process([epctl, "--project", str(root), "validate"]))
        keep("floor", run_process([sys.executable, "-c", FLOOR, str(root)]))  # before versions/ exists
        keep("snapshot", run_process([epctl, "--project", str(root), "snapshot", "v1"]))
        keep("serve start", run_process([sys.executable, "-c", SERVE_START, str(root)]))
        change_one_endpoint(root)
        keep("diff", run_process([epctl, "--project", str(root), "diff", "v1", "develop"], expect=(1,)))
    shutil.rmtree(root)
    return best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated endpoint counts")
    parser.add_argument("--runs", type=int, default=2, help="runs per step and size; the best is kept")
    args = parser.parse_args(argv[1:])
    sizes = [int(size) for size in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="epctl-bench-scale-"))
    print(f"Python {sys.version.split()[0]}, nproc {len(os.sched_getaffinity(0))}; best of {args.runs} runs")
    results: dict[int, dict[str, Run]] = {}
    try:
        for n in sizes:
            results[n] = measure_size(workdir, n, args.runs)
            row = "  ".join(
                f"{step} {run.seconds:.2f} s (cpu {run.cpu_s:.2f} s) {run.peak_mb:.0f} MB"
                for step, run in results[n].items()
            )
            print(f"{n:>7} endpoints: {row}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"\n{'step':12}"
        + "".join(f"{n:>10} ep" for n in sizes)
        + "".join(f"  {a // 1000}k->{b // 1000}k" for a, b in itertools.pairwise(sizes))
    )
    for step in STEPS:
        for label, values, unit in (
            (step, [results[n][step].seconds for n in sizes], "s"),
            ("  cpu", [results[n][step].cpu_s for n in sizes], "s"),
            ("  peak RSS", [results[n][step].peak_mb for n in sizes], "MB"),
        ):
            growth = "".join(f"  {b / a:7.1f}x" for a, b in itertools.pairwise(values))
            cells = "".join(
                f"{value:10.2f} {unit:2}" if unit == "s" else f"{value:10.0f} {unit:2}" for value in values
            )
            print(f"{label:12}{cells}{growth}")
    inner = [results[n]["serve start"].inner_s for n in sizes]
    if all(value is not None for value in inner):
        line = "".join(f"{value:11.2f} s" for value in inner if value is not None)
        print(f"{'  create_app':12}{line}  (in-process part of serve start)")
    if 10_000 in results:
        at_10k = results[10_000]["validate"]
        floor = results[10_000]["floor"]
        print(f"\nvalidate 10,000: {at_10k.seconds:.2f} s wall, {at_10k.cpu_s:.2f} s cpu (target <= 0.7 s)")
        print(
            f"floor at 10,000 (libraries + TOML parsing): {floor.seconds:.2f} s wall, "
            f"{floor.cpu_s:.2f} s cpu; epctl's own share of validate: {at_10k.cpu_s - floor.cpu_s:.2f} s cpu"
        )
        if 100_000 in results:
            at_100k = results[100_000]["validate"]
            print(
                f"validate 100,000 / 10,000: {at_100k.seconds / at_10k.seconds:.1f}x wall, "
                f"{at_100k.cpu_s / at_10k.cpu_s:.1f}x cpu (target <= 10x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
