"""Which endpoint a request reaches, before access control: the one answer `match` and `serve` share.

SPEC §4 steps 2-3 layered on the pure router: disabled endpoints turn a 404 into 503, OPTIONS with
no OPTIONS route becomes a CORS preflight, other methods give 405 with `Allow`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from epctl.schemas.checks import Routes
from epctl.schemas.models import Endpoint
from epctl.schemas.routing import Candidate, explain_precedence


@dataclass(frozen=True, slots=True)
class Dispatch:
    """The router's verdict on one request: status 200, 204 (preflight), 400, 404, 405 or 503."""

    status: int
    endpoint: Endpoint | None = None
    params: dict[str, str] = field(default_factory=dict)
    allowed: tuple[str, ...] = ()
    reason: str = ""


def allow_header(methods: tuple[str, ...]) -> str:
    """Return the `Allow` value for routed methods: HEAD rides on GET, OPTIONS is always answered."""
    listed = set(methods)
    if "GET" in listed:
        listed.add("HEAD")
    listed.add("OPTIONS")
    return ", ".join(sorted(listed))


def dispatch_request(routes: Routes, method: str, path: str, *, cors: bool) -> Dispatch:
    """Return where `method path` goes. `path` is the raw request path, still percent-encoded."""
    method = method.upper()
    found = routes.enabled.match(method, path)
    if found.status == 200 and found.target is not None:
        return Dispatch(
            200, found.target, found.params, found.allowed, "the best of the routes for this path"
        )
    if found.status == 400:
        return Dispatch(400, reason="a route matched but a parameter is not valid percent-encoded UTF-8")
    if found.status == 405:
        if method == "OPTIONS" and cors:
            return Dispatch(
                204, allowed=found.allowed, reason="CORS preflight: no OPTIONS route for this path"
            )
        return Dispatch(
            405, allowed=found.allowed, reason=f"only {', '.join(found.allowed)} routes match this path"
        )
    disabled = routes.disabled.match(method, path)
    if disabled.status == 200 and disabled.target is not None:
        return Dispatch(503, disabled.target, reason="only a disabled endpoint matches this path")
    return Dispatch(404, reason="no route of any method matches this path")


def explain_match(routes: Routes, method: str, path: str) -> list[str]:
    """Return one line for each route that also matched but lost, saying why the winner beat it."""
    lookup = "GET" if method.upper() == "HEAD" else method.upper()
    candidates: list[Candidate[Endpoint]] = routes.enabled.match_all(lookup, path)
    if len(candidates) < 2:
        return []
    winner = candidates[0]
    return [
        f'beat {loser.target.route} ("{loser.target.id}"): {explain_precedence(winner, loser)}'
        for loser in candidates[1:]
    ]
