"""Benchmark validation of a large project: 10,000 endpoints, side by side in one run.

Run: `python bench/bench_validate.py [N]` (default 10,000 endpoints). Prints:
- the wall time of `epctl validate` as a user runs it (a new process: imports, parsing, every check),
- where that time goes in-process (parse, load and check),
- tomli against the standard library's tomllib on the same files (why epctl reads TOML with tomli),
- the router: build time and match time at 10 and at N routes next to werkzeug's `Map`.
Target: `epctl validate` <= 1 s at 10,000 endpoints.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import tomli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_routing import generate_routes, measure_router, measure_werkzeug

from epctl.schemas.loader import read_project

FILES = 10  # endpoints are spread over this many files, as a team would split them


def write_project(root: Path, routes: list[tuple[str, str]]) -> None:
    """Write a project with one endpoint per route, a page, and a workflow on every tenth endpoint."""
    (root / "endpoints").mkdir(parents=True)
    (root / "pages").mkdir()
    (root / "workflows").mkdir()
    (root / "epctl.toml").write_text('[project]\nname = "bench"\n')
    (root / "pages" / "p.toml").write_text('[[page]]\nname = "p"\nbody = "<p>{{ request.path }}</p>"\n')
    per_file = -(-len(routes) // FILES)
    workflow_endpoints = []
    for start in range(0, len(routes), per_file):
        chunks = []
        for index in range(start, min(start + per_file, len(routes))):
            method, path = routes[index]
            endpoint = f'[[endpoint]]\nid = "e{index}"\nmethod = "{method}"\nroute = "{path}"\n'
            if index % 10:
                endpoint += 'reply = { type = "page", page = "p" }\n'
            else:
                workflow_endpoints.append(f"e{index}")
            chunks.append(endpoint)
        (root / "endpoints" / f"part{start // per_file:02d}.toml").write_text("\n".join(chunks))
    ids = ", ".join(f'"{e}"' for e in workflow_endpoints)
    workflow = f'[[workflow]]\nname = "w"\nhandler = "w.py:run"\nendpoints = [{ids}]\n'
    (root / "workflows" / "w.toml").write_text(workflow)
    (root / "workflows" / "w.py").write_text("def run(request):\n    return {'ok': True}\n")


def best_of(runs: int, function) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    routes = generate_routes(n)
    workdir = Path(tempfile.mkdtemp(prefix="epctl-bench-"))
    try:
        root = workdir / "project"
        write_project(root, routes)
        epctl = shutil.which("epctl") or "epctl"

        def validate_cli() -> None:
            command = [epctl, "--project", str(root), "validate"]
            result = subprocess.run(command, capture_output=True, text=True)
            assert result.returncode == 0, result.stderr[-2000:]

        def validate_in_process() -> None:
            _, problems = read_project(root)
            assert not problems, problems[:3]

        texts = [p.read_text() for p in sorted((root / "endpoints").glob("*.toml"))]
        cli_s = best_of(3, validate_cli)
        load_s = best_of(3, validate_in_process)
        tomli_s = best_of(3, lambda: [tomli.loads(t) for t in texts])
        tomllib_s = best_of(3, lambda: [tomllib.loads(t) for t in texts])
        python_s = best_of(3, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))

        small, large = measure_router(routes[:10]), measure_router(routes)
        wz_small, wz_large = measure_werkzeug(routes[:10]), measure_werkzeug(routes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"project: {n} endpoints in {FILES} files, python {sys.version.split()[0]}")
    print(f"epctl validate (new process, wall)   {cli_s:8.3f} s   target <= 1 s")
    print(f"  of which python start-up           {python_s:8.3f} s")
    print(f"  read_project (parse+load+checks)   {load_s:8.3f} s")
    print(
        f"TOML parse, {n} tables: tomli {tomli_s:.3f} s, tomllib {tomllib_s:.3f} s "
        f"(tomllib/tomli = {tomllib_s / tomli_s:.1f}x)"
    )
    build = large["build_s"] + large["tree_s"]
    print(
        f"router build, {n} routes: epctl {build:.3f} s = parse+add {large['build_s']:.3f} s + match tree "
        f"{large['tree_s']:.3f} s (target <= 0.1 s), werkzeug Map {wz_large['build_s']:.3f} s "
        f"(werkzeug/epctl = {wz_large['build_s'] / build:.0f}x)"
    )
    print(
        f"match, mean per request: epctl {small['match_us']:.2f} us at 10, "
        f"{large['match_us']:.2f} us at {n} "
        f"(ratio {large['match_us'] / small['match_us']:.2f}, target <= 1.5); "
        f"werkzeug {wz_small['match_us']:.2f} us at 10, {wz_large['match_us']:.2f} us at {n} "
        f"(ratio {wz_large['match_us'] / wz_small['match_us']:.2f})"
    )


if __name__ == "__main__":
    main()
