"""Benchmark `validate` on adversarial projects, each at x1, x2 and x4 its size: growth must be linear.

Run: `python bench/bench_adversarial.py [--quick]`. For each input it writes a project, times
`read_project` (parse, load, every check: what `epctl validate` does after start-up) at three sizes,
and prints the seconds and the growth from x1 to x4. Near-linear work grows about 4x from x1 to x4; a
quadratic check grows about 16x. Every run must also end without a traceback: deep inputs become
problems. Inputs (those of the hardening issue; x1 is its size):
- line finder: an 80 kB TOML file of `[` followed by `a\\n.\\n` repeated,
- unknown pages: 2,000 replies naming pages that are not declared, beside 2,000 declared pages,
- unknown endpoints: a workflow triggered by 2,000 undeclared endpoints, beside 2,000 declared ones,
- deep TOML: arrays nested 500 deep, repeated,
- deep handlers: a handler file of 200,000 `-` (and of 100,000 `lambda:`),
- deep template: a template of 5,000 opening parentheses.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from epctl.schemas.loader import read_project
from epctl.schemas.positions import scan_key_lines

ENDPOINT = '[[endpoint]]\nid = "{id}"\nmethod = "GET"\nroute = "/{id}"\n{extra}\n'


def line_finder(scale: int) -> dict[str, str]:
    return {"endpoints/adversarial.toml": "[" + "a\n.\n" * (20_000 * scale)}


def unknown_pages(scale: int) -> dict[str, str]:
    count = 2_000 * scale
    pages = "".join(f'[[page]]\nname = "page-{i}"\nbody = "p"\n' for i in range(count))
    endpoints = "".join(
        ENDPOINT.format(id=f"e{i}", extra=f'reply = {{ type = "page", page = "missing-{i}" }}')
        for i in range(count)
    )
    return {"pages/pages.toml": pages, "endpoints/endpoints.toml": endpoints}


def unknown_endpoints(scale: int) -> dict[str, str]:
    count = 2_000 * scale
    endpoints = "".join(
        ENDPOINT.format(id=f"endpoint-{i}", extra='reply = { type = "redirect", to = "/" }')
        for i in range(count)
    )
    triggers = ", ".join(f'"missing-{i}"' for i in range(count))
    workflow = f'[[workflow]]\nname = "w"\nhandler = "w.py:run"\nendpoints = [{triggers}]\n'
    return {
        "endpoints/endpoints.toml": endpoints,
        "workflows/w.toml": workflow,
        "workflows/w.py": "def run(request):\n    return None\n",
    }


def deep_toml(scale: int) -> dict[str, str]:
    line = "x = " + "[" * 500 + "]" * 500 + "\n"
    return {f"endpoints/deep{i}.toml": line for i in range(10 * scale)}


def handler_project(source: str) -> dict[str, str]:
    return {
        "endpoints/a.toml": ENDPOINT.format(id="a", extra=""),
        "workflows/w.toml": '[[workflow]]\nname = "w"\nhandler = "w.py:run"\nendpoints = ["a"]\n',
        "workflows/w.py": source,
    }


def deep_handler_minus(scale: int) -> dict[str, str]:
    return handler_project("x = " + "-" * (200_000 * scale) + "1\n")


def deep_handler_lambda(scale: int) -> dict[str, str]:
    return handler_project("x = " + "lambda: " * (100_000 * scale) + "1\n")


def deep_template(scale: int) -> dict[str, str]:
    body = "{{ " + "(" * (5_000 * scale) + " }}"
    return {"pages/p.toml": '[[page]]\nname = "p"\ntemplate = "p.html"\n', "pages/p.html": body}


INPUTS: dict[str, Callable[[int], dict[str, str]]] = {
    "line finder (80 kB of [ a . )": line_finder,
    "2,000 unknown page references": unknown_pages,
    "2,000 unknown endpoint references": unknown_endpoints,
    "TOML arrays 500 deep (x10 files)": deep_toml,
    "handler of 200,000 '-'": deep_handler_minus,
    "handler of 100,000 'lambda:'": deep_handler_lambda,
    "template of 5,000 '('": deep_template,
}


def write(root: Path, files: dict[str, str]) -> None:
    shutil.rmtree(root, ignore_errors=True)
    for relative, text in {"epctl.toml": '[project]\nname = "bench"\n', **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def measure_scan(scale: int) -> float:
    """Return the best of three times of the line finder alone on the line-finder input."""
    text = line_finder(scale)["endpoints/adversarial.toml"]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        scan_key_lines(text)
        best = min(best, time.perf_counter() - start)
    return best


def measure(root: Path) -> tuple[float, int]:
    """Return the best of three `read_project` times and the number of problems found."""
    best = float("inf")
    found = 0
    for _ in range(3):
        start = time.perf_counter()
        _, problems = read_project(root)
        best = min(best, time.perf_counter() - start)
        found = len(problems)
    return best, found


def report(name: str, scales: tuple[int, ...], times: list[float], note: str) -> None:
    cells = "  ".join(f"x{s} {t:7.3f} s" for s, t in zip(scales, times, strict=True))
    growth = times[-1] / times[0] if times[0] else float("inf")
    print(f"{name:36} {cells}  growth x{scales[-1]}/x1 {growth:5.1f}  {note}".rstrip())


def main() -> None:
    scales = (1, 2) if "--quick" in sys.argv else (1, 2, 4)
    workdir = Path(tempfile.mkdtemp(prefix="epctl-adversarial-"))
    print(f"python {sys.version.split()[0]}; read_project, best of 3, at x{', x'.join(map(str, scales))}")
    try:
        for name, make in INPUTS.items():
            times = []
            problems = []
            for scale in scales:
                write(workdir / "project", make(scale))
                seconds, found = measure(workdir / "project")
                times.append(seconds)
                problems.append(found)
            report(name, scales, times, f"problems {problems}")
        report("line finder alone (scan_key_lines)", scales, [measure_scan(s) for s in scales], "")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
