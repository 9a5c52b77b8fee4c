"""Benchmark versions of a large project: snapshot time and serve start time at 10,000 endpoints.

Run: `python bench/bench_versions.py [N]` (default 10,000 endpoints). Prints, in one run:
- `epctl snapshot` wall time (a new process, as a user runs it) and `freeze_version` in-process,
- the start of serving that version: `create_app(project, version=NAME)` in-process (read the file,
  verify the digest, build router, templates and handlers), next to building develop's app from the
  project folder, and the wall time of a new process that imports epctl and builds the app, as a
  gunicorn master does before it forks.
Targets: snapshot <= 2 s, start <= 1 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_routing import generate_routes
from bench_validate import write_project

from epctl.runtime import create_app
from epctl.runtime.version_store import freeze_version


def time_once(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def best_of(runs: int, function: Callable[[], object]) -> float:
    return min(time_once(function) for _ in range(runs))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    workdir = Path(tempfile.mkdtemp(prefix="epctl-bench-"))
    try:
        root = workdir / "project"
        write_project(root, generate_routes(n))
        epctl = shutil.which("epctl") or "epctl"
        counter = iter(range(1_000_000))

        def snapshot_cli() -> None:
            command = [epctl, "--project", str(root), "snapshot", f"cli{next(counter)}"]
            subprocess.run(command, check=True, capture_output=True)

        snapshot_cli_s = best_of(3, snapshot_cli)
        snapshot_s = best_of(3, lambda: freeze_version(root, f"api{next(counter)}"))
        version = sorted((root / "versions").glob("api*.toml"))[0]
        size = version.stat().st_size
        start_version_s = best_of(3, lambda: create_app(root, version.stem))
        start_develop_s = best_of(3, lambda: create_app(root))
        code = f"from epctl.runtime import create_app; create_app({str(root)!r}, {version.stem!r})"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        start_process_s = best_of(
            3, lambda: subprocess.run([sys.executable, "-c", code], check=True, env=env)
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"project: {n} endpoints, version file {size / 1e6:.1f} MB, python {sys.version.split()[0]}")
    print(f"epctl snapshot (new process, wall)        {snapshot_cli_s:7.3f} s   target <= 2 s")
    print(f"  freeze_version in-process               {snapshot_s:7.3f} s")
    print(f"start: create_app(version) in-process     {start_version_s:7.3f} s   target <= 1 s")
    print(
        f"  create_app(develop) in-process          {start_develop_s:7.3f} s   "
        f"(version/develop = {start_version_s / start_develop_s:.2f})"
    )
    print(f"  new process: import + create_app(version) {start_process_s:5.3f} s")


if __name__ == "__main__":
    main()
