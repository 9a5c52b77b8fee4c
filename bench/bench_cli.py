"""How fast the command line answers: `epctl --version`, `--help` and `validate` of the sample project.

Run: `python bench/bench_cli.py [--rounds 15]` from the repo root (venv active). Each command runs in a
new process, the commands taking turns in each round; prints the best and median wall and CPU time of each
and the targets: `epctl --version` <= 3x `python -c pass` (median of per-round ratios), `validate` of
the sample <= 0.35 s (median).

Two modes, because this machine sets PYTHONDONTWRITEBYTECODE=1: with it, every run compiles epctl's
own modules again (an editable install keeps its sources in the checkout); with a bytecode cache
(PYTHONPYCACHEPREFIX, a folder of this bench's own, filled by one warm-up run) as any installed
package runs. `python -c 'import typer'` is the floor the CLI cannot go below; "libraries validate
needs" is the floor `validate` of the sample cannot go below on this stack: typer with the pydantic
types it coerces every option through, Jinja2's sandbox (template syntax is checked) and jsonschema
(the sample's JSON Schemas are checked against the draft 2020-12 meta-schema), and no epctl code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample-project"
# What `validate` of the sample imports that is not epctl's: typer coerces each option through a
# pydantic TypeAdapter (typer._adapters), which also brings what epctl's models are built with.
LIBRARIES = "import typer, typer._adapters, jinja2.sandbox, jsonschema"


def commands() -> dict[str, list[str]]:
    epctl = str(Path(sys.executable).parent / "epctl")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "libraries validate needs": [sys.executable, "-c", LIBRARIES],
        "epctl --version": [epctl, "--version"],
        "epctl --help": [epctl, "--help"],
        "epctl validate (sample)": [epctl, "--project", str(SAMPLE), "validate"],
    }


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Return (wall, CPU) seconds of one run of `command`; raise when it fails.

    CPU is the child's user + system time (from `wait4`): on a machine busy with others' work, wall
    time mostly measures the wait for a CPU, and CPU time is what the run costs on a quiet one.
    """
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(env: dict[str, str], rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Return {command: (wall, CPU) seconds of each round}, the commands taking turns in a rotating
    order."""
    runs = commands()
    for command in runs.values():
        run_once(command, env)  # warm-up: disk cache, and the bytecode cache where there is one
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    names = list(runs)
    for turn in range(rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            times[name].append(run_once(runs[name], env))
    return times


def report(title: str, times: dict[str, list[tuple[float, float]]]) -> None:
    print(f"\n{title}")
    columns = f"{'wall: best':>10} {'median':>7}   {'cpu: best':>9} {'median':>7}"
    print(f"   {'command':26} {columns}   x python -c pass (wall)")
    floor = times["python -c pass"]
    for name, runs in times.items():
        walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
        ratio = statistics.median(a[0] / b[0] for a, b in zip(runs, floor, strict=True))
        print(
            f"   {name:26} {min(walls):8.3f} s {statistics.median(walls):5.3f} s   "
            f"{min(cpus):7.3f} s {statistics.median(cpus):5.3f} s   {ratio:5.1f}x"
        )
    version = statistics.median(a[0] / b[0] for a, b in zip(times["epctl --version"], floor, strict=True))
    validate = statistics.median(wall for wall, _ in times["epctl validate (sample)"])
    validate_cpu = statistics.median(cpu for _, cpu in times["epctl validate (sample)"])
    print(f"   epctl --version / python -c pass: {version:.1f}x wall (target <= 3x: {verdict(version <= 3)})")
    print(
        f"   validate of the sample: {validate:.3f} s wall, {validate_cpu:.3f} s cpu "
        f"(target <= 0.35 s: {verdict(validate <= 0.35)} wall, {verdict(validate_cpu <= 0.35)} cpu)"
    )
    libraries = statistics.median(wall for wall, _ in times["libraries validate needs"])
    libraries_cpu = statistics.median(cpu for _, cpu in times["libraries validate needs"])
    print(
        f"   the libraries validate needs, imported alone: {libraries:.3f} s wall, "
        f"{libraries_cpu:.3f} s cpu; epctl's own share of validate: {validate - libraries:.3f} s wall"
    )


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv[1:])
    print(f"Python {sys.version.split()[0]}, nproc {len(os.sched_getaffinity(0))}, {args.rounds} rounds")
    plain = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    plain.pop("PYTHONPYCACHEPREFIX", None)
    report("No bytecode cache for epctl (PYTHONDONTWRITEBYTECODE=1)", measure(plain, args.rounds))
    cache = tempfile.mkdtemp(prefix="epctl-bench-pycache-")
    try:
        cached = {**os.environ, "PYTHONPYCACHEPREFIX": cache}
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        report("With a bytecode cache (as an installed package runs)", measure(cached, args.rounds))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
