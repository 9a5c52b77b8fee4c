"""Benchmark the cost of `[users]` on an authenticated request, in-process.

Run: `python bench/bench_users.py [--rounds N] [--requests N]`. Two copies of one small project are
built in a temporary folder, the same but for a `[users]` table in one of them. Each serves
`GET /api/me` (access "authenticated", a workflow returning the token's `sub`) to a request carrying
`Authorization: Bearer TOKEN`:
- users on: a session token from a real sign-in (`sub` = an account id, `gen` checked against the
  SQLite users database through the in-process generation cache);
- users off: a plain token as `epctl token` mints it, for the same `sub` and groups (pyjwt's decoding
  cost grows with the token's length, so only `gen` and its check differ).
The two apps take turns in every round (interleaved), each answering `--requests` requests with the
WSGI callable called directly on a prepared environ. Prints best and median per-request times and
the ratio users-on / plain (best/best, and the median of the per-round ratios). Target: <= 1.1.
Nothing is asserted about wall-clock times: the figures only compare within one run on one machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from epctl.runtime.app import EpctlApp, create_app
from epctl.runtime.tokens import mint_token
from epctl.schemas.loader import load_project

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
TARGET_RATIO = 1.1
SECRET_ENV = "EPCTL_BENCH_SECRET"

FILES = {
    "endpoints/api.toml": (
        '[[endpoint]]\nid = "me"\nmethod = "GET"\nroute = "/api/me"\naccess = "authenticated"\n'
    ),
    "workflows/me.toml": '[[workflow]]\nname = "me"\nhandler = "me.py:who"\nendpoints = ["me"]\n',
    "workflows/me.py": 'def who(request):\n    return {"sub": request.user["sub"]}\n',
}
CONFIG = f'[project]\nname = "bench-users"\n\n[auth]\nsecret_env = "{SECRET_ENV}"\nissuer = "bench"\n'


def write_project(root: Path, users: bool) -> Path:
    root.mkdir(parents=True)
    (root / "epctl.toml").write_text(CONFIG + ("\n[users]\n" if users else ""))
    for relative, text in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def make_environ(token: str) -> Callable[[], dict[str, Any]]:
    environ = EnvironBuilder(path="/api/me", headers={"Authorization": f"Bearer {token}"}).get_environ()
    return lambda: dict(environ)


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def time_requests(app: WsgiApp, environ: Callable[[], dict[str, Any]], count: int) -> float:
    """Return the mean seconds per request of `count` requests, bodies consumed."""
    started = time.perf_counter()
    for _ in range(count):
        for _chunk in app(environ(), start_response):
            pass
    return (time.perf_counter() - started) / count


def check(app: WsgiApp, environ: Callable[[], dict[str, Any]], expected: str) -> None:
    statuses: list[str] = []
    body = b"".join(app(environ(), lambda status, headers, exc_info=None: statuses.append(status)))
    if statuses != ["200 OK"] or expected.encode() not in body:
        sys.exit(f"the benchmark request failed: {statuses} {body!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=2000)
    options = parser.parse_args()
    os.environ[SECRET_ENV] = "bench-secret-that-is-long-enough-for-hs256-tokens"
    os.environ.pop("EPCTL_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="epctl-bench-users-") as folder:
        on_dir = write_project(Path(folder) / "users-on", users=True)
        off_dir = write_project(Path(folder) / "users-off", users=False)
        users_on: EpctlApp = create_app(on_dir)
        plain: EpctlApp = create_app(off_dir)
        assert users_on.sessions is not None
        account = users_on.sessions.store.create(
            "ada@example.com", "correct horse battery staple", groups=["admins"]
        )
        session_token = users_on.sessions.token_for(account)
        plain_token = mint_token(load_project(off_dir), account.id, account.groups, 3600)
        on_environ, off_environ = make_environ(session_token), make_environ(plain_token)
        check(users_on, on_environ, account.id)
        check(plain, off_environ, account.id)
        time_requests(users_on, on_environ, options.requests)  # warm-up: caches, first imports
        time_requests(plain, off_environ, options.requests)
        on_times: list[float] = []
        off_times: list[float] = []
        for round_number in range(options.rounds):
            # Interleaved, and the order alternates: neither app always runs on a warmer machine.
            pair = [(users_on, on_environ, on_times), (plain, off_environ, off_times)]
            for app, environ, times in pair if round_number % 2 == 0 else reversed(pair):
                times.append(time_requests(app, environ, options.requests))
        users_on.sessions.close()
    ratios = [on / off for on, off in zip(on_times, off_times, strict=True)]
    print(
        f"Python {sys.version.split()[0]}; {options.rounds} interleaved rounds of {options.requests} requests"
    )
    print("GET /api/me, Authorization: Bearer      best      median")
    for label, times in (("users on (session token, gen checked)", on_times), ("plain token", off_times)):
        print(f"{label:38} {min(times) * 1e6:7.2f} us {statistics.median(times) * 1e6:7.2f} us")
    print(
        f"ratio users-on/plain: best/best {min(on_times) / min(off_times):.3f}, "
        f"median of rounds {statistics.median(ratios):.3f} (target <= {TARGET_RATIO})"
    )


if __name__ == "__main__":
    main()
