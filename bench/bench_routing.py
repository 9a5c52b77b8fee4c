"""Benchmark epctl's router (epctl.schemas.routing) against werkzeug's Map on equivalent routes.

Run: `python bench/bench_routing.py [N]` (N routes for the large table, default 10,000). Prints, in one
run, the build time for N routes and the mean match time at 10 and at N routes for both routers, with the
ratio at-N / at-10; then one mixed-segment route matched against a normal request and adversarial ones
(long runs of its separator, which take a backtracking regex cubic time). Targets for epctl: parse +
add of 10,000 routes <= 0.1 s; ratio <= 1.5; the adversarial match linear in the segment's length.

Other bench scripts can reuse `generate_routes` and `measure_router` (insert this folder in `sys.path`).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable

from epctl.schemas.routing import RouteTable, parse_route

# One service declares one route of each kind; route r is kind r % 10 of service r // 10, so the first
# 10 routes of any table are exactly the 10-route table. Each kind comes with a request that reaches it.
_KINDS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/svc{i}/items", "/svc{i}/items"),
    ("GET", "/svc{i}/items/{{id}}", "/svc{i}/items/42"),
    ("POST", "/svc{i}/items", "/svc{i}/items"),
    ("PUT", "/svc{i}/items/{{id}}", "/svc{i}/items/42"),
    ("DELETE", "/svc{i}/items/{{id}}", "/svc{i}/items/42"),
    ("GET", "/svc{i}/files/{{name}}.{{ext}}", "/svc{i}/files/report.pdf"),
    ("GET", "/svc{i}/static/{{path*}}", "/svc{i}/static/css/site.css"),
    ("GET", "/svc{i}/users/{{userId}}/attrs/{{attr?}}", "/svc{i}/users/u7/attrs/temp"),
    ("GET", "/svc{i}/v{{version}}/status", "/svc{i}/v2/status"),
    ("PATCH", "/svc{i}/items/{{id}}/tags/{{tag}}", "/svc{i}/items/42/tags/red"),
)
_SAMPLED_SERVICES = 20  # requests are drawn from this many services spread over the table
_ROUNDS = 15  # the best round is kept: the least disturbed by other work on the machine


def generate_routes(n: int) -> list[tuple[str, str]]:
    """Return `n` (method, hapi path) pairs: literals, params, mixed segments, `{p?}` and `{p*}`."""
    return [(_KINDS[r % 10][0], _KINDS[r % 10][1].format(i=r // 10)) for r in range(n)]


def generate_requests(n: int) -> list[tuple[str, str]]:
    """Return (method, path) requests for routes of an `n`-route table, every kind equally often.

    At 10 routes that is one request per route; at 10,000 routes 10 per sampled service, the services
    spread over the whole table, so both sizes are timed on the same kinds of request.
    """
    services = max(1, n // 10)
    picked = min(services, _SAMPLED_SERVICES)
    chosen = sorted({round(k * (services - 1) / max(1, picked - 1)) for k in range(picked)})
    return [
        (method, request.format(i=service))
        for service in chosen
        for kind, (method, _, request) in enumerate(_KINDS)
        if service * 10 + kind < n
    ]


def _time_per_call(function: Callable[[str, str], object], requests: list[tuple[str, str]]) -> float:
    """Return the best-of-rounds mean seconds per call over `requests`."""
    repeat = max(1, 10_000 // len(requests))
    means = []
    for _ in range(_ROUNDS):
        start = time.perf_counter()
        for _ in range(repeat):
            for method, path in requests:
                function(method, path)
        means.append((time.perf_counter() - start) / (repeat * len(requests)))
    return min(means)


def measure_router(routes: list[tuple[str, str]]) -> dict[str, float]:
    """Build epctl's RouteTable from `routes` and time it.

    Returns {'routes', 'build_s' (parse_route + RouteTable.add), 'tree_s' (the first match, which builds
    the search tree), 'match_us' (mean per match), 'requests'}. Every sampled request must reach a route
    (status 200), so a broken router cannot look fast.
    """
    start = time.perf_counter()
    table: RouteTable[str] = RouteTable()
    for method, path in routes:
        table.add(method, parse_route(path), path)
    build = time.perf_counter() - start
    requests = generate_requests(len(routes))
    start = time.perf_counter()
    for method in sorted({method for method, _ in routes}):
        table.match(method, "/")  # each method's tree is built at its first lookup
    tree = time.perf_counter() - start
    for method, path in requests:
        found = table.match(method, path)
        if found.status != 200:
            raise AssertionError(f"{method} {path}: {found.status}")
    return {
        "routes": len(routes),
        "build_s": build,
        "tree_s": tree,
        "match_us": _time_per_call(table.match, requests) * 1e6,
        "requests": len(requests),
    }


_PARAM_RE = re.compile(r"\{(\w+)(\*|\?)?\}")


def to_werkzeug(path: str) -> list[str]:
    """Return the werkzeug rule strings equivalent to a hapi path: {p} -> <p>, {p*} -> <path:p>.

    werkzeug has no optional param: a last `{p?}` becomes two rules, with and without it.
    """

    def convert(param: re.Match[str]) -> str:
        name, kind = param.group(1), param.group(2)
        return f"<path:{name}>" if kind == "*" else f"<{name}>"

    rules = [_PARAM_RE.sub(convert, path)]
    if path.endswith("?}"):
        rules.append(_PARAM_RE.sub(convert, path.rsplit("/", 1)[0]))
    return rules


def measure_werkzeug(routes: list[tuple[str, str]]) -> dict[str, float]:
    """Like `measure_router`, for werkzeug's Map and MapAdapter.match on the equivalent rules."""
    from werkzeug.routing import Map, Rule

    start = time.perf_counter()
    rules = [
        Rule(rule, endpoint=path, methods=[method]) for method, path in routes for rule in to_werkzeug(path)
    ]
    url_map = Map(rules, strict_slashes=False, merge_slashes=False)
    url_map.update()  # werkzeug builds its state machine here, or at the first match
    adapter = url_map.bind("localhost")
    build = time.perf_counter() - start
    requests = generate_requests(len(routes))

    def match(method: str, path: str) -> object:
        return adapter.match(path, method=method)

    for method, path in requests:
        match(method, path)  # raises NotFound / MethodNotAllowed when the rules are not equivalent
    return {
        "routes": len(routes),
        "build_s": build,
        "tree_s": 0.0,  # included in build_s: `update()` builds the state machine
        "match_us": _time_per_call(match, requests) * 1e6,
        "requests": len(requests),
    }


_MIXED_ROUTE = "/r/{y}-{m}-{d}.csv"


def measure_mixed() -> dict[str, float]:
    """Time one mixed-segment route on a normal request and on adversarial ones.

    Returns mean microseconds per match for 'normal' (`/r/2024-01-31.csv`), 'dashes_1300' (`/r/` and
    1,300 dashes: seconds for the backtracking regex hapi uses) and 'dashes_100k' (100,000 dashes),
    and 'regex_400_s': seconds that regex takes on 400 dashes, for reference.
    """
    table: RouteTable[str] = RouteTable()
    table.add("GET", parse_route(_MIXED_ROUTE), _MIXED_ROUTE)
    if table.match("GET", "/r/2024-01-31.csv").status != 200:
        raise AssertionError(f"{_MIXED_ROUTE} does not match /r/2024-01-31.csv")
    figures = {
        name: _time_per_call(table.match, [("GET", path)]) * 1e6
        for name, path in (
            ("normal", "/r/2024-01-31.csv"),
            ("dashes_1300", "/r/" + "-" * 1300),
            ("dashes_100k", "/r/" + "-" * 100_000),
        )
    }
    regex = re.compile(r"(.+)\-(.+)\-(.+)\.csv", re.DOTALL)
    start = time.perf_counter()
    regex.fullmatch("-" * 400)
    figures["regex_400_s"] = time.perf_counter() - start
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="epctl's router next to werkzeug's Map, in one run.")
    parser.add_argument("routes", nargs="?", type=int, default=10_000, help="the large table's size")
    large = parser.parse_args(argv[1:]).routes
    print(f"Python {sys.version.split()[0]}; match times are the best of {_ROUNDS} rounds' means")
    print(
        f"{'router':9} {f'build {large}':>12} {'+ tree':>9} {'= total':>9}"
        f" {'match @10':>11} {f'match @{large}':>13} {'ratio':>6}"
    )
    for name, measure in (("epctl", measure_router), ("werkzeug", measure_werkzeug)):
        small = measure(generate_routes(10))
        big = measure(generate_routes(large))
        if name == "epctl":
            # Build times on a shared machine are noisy: report the median of 5 builds.
            runs = [big] + [measure_router(generate_routes(large)) for _ in range(4)]
            big = {
                **big,
                **{key: statistics.median(run[key] for run in runs) for key in ("build_s", "tree_s")},
            }
        total = big["build_s"] + big["tree_s"]
        ratio = big["match_us"] / small["match_us"]
        print(
            f"{name:9} {big['build_s']:>10.3f} s {big['tree_s']:>7.3f} s {total:>7.3f} s"
            f" {small['match_us']:>8.2f} us {big['match_us']:>10.2f} us {ratio:>6.2f}"
        )
    mixed = measure_mixed()
    print(
        f"mixed segment {_MIXED_ROUTE}, mean per match: normal {mixed['normal']:.2f} us,"
        f" 1,300 dashes {mixed['dashes_1300']:.2f} us, 100,000 dashes {mixed['dashes_100k']:.1f} us"
        f" (a backtracking regex: {mixed['regex_400_s']:.3f} s on 400 dashes, cubic in their number)"
    )
    print("build = parse + add (epctl: conflict checks; werkzeug: Map(rules) + update());")
    print("tree = epctl's search tree, built at the first match of each method; ratio = match @N / match @10")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
