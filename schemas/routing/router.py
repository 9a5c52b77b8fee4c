"""`Router`: the one entry callers use, and the outcome value each request gets from it.

A router holds the enabled routes and, apart, the disabled ones (which only turn a 404 into a 503).
`match` returns one of six outcome classes (all frozen but the hot `Matched`); callers dispatch on
them with `match` statements, never on status numbers. The order of the verdicts is README's "Serving
a request", step 1 and 2.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from epctl.schemas.routing.explain import explain_precedence
from epctl.schemas.routing.paths import normalize_path
from epctl.schemas.routing.syntax import OWN_METHODS, Route, lookup_method
from epctl.schemas.routing.table import Candidate, RouteConflictError, RouteTable

T = TypeVar("T")


def allow_methods(allowed: tuple[str, ...], *, preflight: bool) -> tuple[str, ...]:
    """Return the methods a path answers, sorted: the routed ones, HEAD when GET is one, and OPTIONS
    when a route or the CORS preflight (`preflight`, CORS on) answers it."""
    listed = set(allowed)
    if "GET" in listed:
        listed.add("HEAD")
    if preflight:
        listed.add("OPTIONS")
    return tuple(sorted(listed))


# Not frozen, unlike the other outcomes: a frozen dataclass sets each field through
# `object.__setattr__`, which made building this one, the outcome of nearly every request, cost as much
# as finding the route. Nothing writes to it after the router returns it.
@dataclass(slots=True)
class Matched(Generic[T]):
    """An enabled route serves the request: its target, the route and the decoded params."""

    target: T
    route: Route
    params: dict[str, str]
    path: str  # the normalized request path

    status: ClassVar[int] = 200
    reason: ClassVar[str] = "the best of the routes for this path"


@dataclass(frozen=True, slots=True)
class NotFound:
    """No route of any method matches, enabled or disabled."""

    path: str

    status: ClassVar[int] = 404
    reason: ClassVar[str] = "no route of any method matches this path"


@dataclass(frozen=True, slots=True)
class Disabled(Generic[T]):
    """Only a disabled endpoint's route matches: its target, for the 503 reply."""

    target: T
    path: str

    status: ClassVar[int] = 503
    reason: ClassVar[str] = "only a disabled endpoint matches this path"


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    """Only routes of other methods match; `allowed` is their sorted methods (HEAD not listed)."""

    allowed: tuple[str, ...]
    path: str
    # Whether OPTIONS is answered for the path without a route of its own (CORS preflights on).
    preflight: bool = True

    status: ClassVar[int] = 405

    @property
    def reason(self) -> str:
        """Return the human text, naming the methods that do match."""
        return f"only {', '.join(self.allowed)} routes match this path"

    @property
    def allow_methods(self) -> tuple[str, ...]:
        """Return the methods the `Allow` header lists: the allowed methods, HEAD when GET is one,
        and OPTIONS when it is routed or CORS preflights answer it."""
        return allow_methods(self.allowed, preflight=self.preflight)

    @property
    def allow_header(self) -> str:
        """Return the `Allow` value: `allow_methods` joined."""
        return ", ".join(self.allow_methods)


@dataclass(frozen=True, slots=True)
class BadEncoding:
    """The best route's params are not valid percent-encoded UTF-8: 400, no other route is tried."""

    route: Route
    path: str

    status: ClassVar[int] = 400
    reason: ClassVar[str] = "a route matched but a parameter is not valid percent-encoded UTF-8"


@dataclass(frozen=True, slots=True)
class Preflight:
    """OPTIONS with no OPTIONS route, CORS on: `allowed` lists the methods routed for the path."""

    allowed: tuple[str, ...]
    path: str

    status: ClassVar[int] = 204
    reason: ClassVar[str] = "CORS preflight: no OPTIONS route for this path"

    @property
    def allow_methods(self) -> tuple[str, ...]:
        """Return the methods the `Allow` header lists: the allowed ones, HEAD when GET is one, OPTIONS."""
        return allow_methods(self.allowed, preflight=True)

    @property
    def allow_header(self) -> str:
        """Return the `Allow` value: `allow_methods` joined."""
        return ", ".join(self.allow_methods)


Outcome = Matched[T] | NotFound | Disabled[T] | MethodNotAllowed | BadEncoding | Preflight


class Router(Generic[T]):
    """Enabled and disabled routes with their targets, and the verdict on each request.

    Fill it from one thread (`add`), then `prepare` it; `match`, `explain`, `candidates` and `entries`
    may then run in many threads.
    """

    def __init__(self, *, cors: bool = True) -> None:
        self.cors = cors
        self._enabled: RouteTable[T] = RouteTable()
        self._disabled: RouteTable[T] = RouteTable()

    def __len__(self) -> int:
        """Return the number of routes held, enabled and disabled."""
        return len(self._enabled) + len(self._disabled)

    def add(self, method: str, route: Route, target: T, *, enabled: bool = True) -> None:
        """Add `route` for `method` (one of METHODS, as written: 'GET', not 'get'), serving `target`.

        An enabled route that clashes with an enabled one raises RouteConflictError, leaving the router
        unchanged. A disabled route that clashes with a disabled one is left out silently: a disabled
        route only turns a 404 into a 503, and the first one already does. Raises ValueError for a
        method not in METHODS.
        """
        if enabled:
            self._enabled.add(method, route, target)
            return
        with suppress(RouteConflictError):
            self._disabled.add(method, route, target)

    def prepare(self) -> None:
        """Build the search trees and compile their matchers now: a server calls this before it forks
        its workers."""
        self._enabled.prepare()
        self._disabled.prepare()

    def match(self, method: str, path: str) -> Outcome[T]:
        """Return the verdict on `method path`; `path` is the raw request path, still percent-encoded.

        In this order: the best enabled route (Matched, or BadEncoding when its params fail decoding);
        enabled routes of other methods only (Preflight for OPTIONS with CORS on, else
        MethodNotAllowed); a disabled route (Disabled); else NotFound.
        """
        normalized = normalize_path(path)
        if not normalized.startswith("/"):
            return NotFound(normalized)
        segments = normalized.split("/")
        own = OWN_METHODS.get(method) or lookup_method(method)
        enabled = self._enabled
        found = enabled.find(own, normalized, segments)
        if found is not None:
            leaf, params = found
            if params is None:
                return BadEncoding(leaf.route, normalized)
            return Matched(leaf.target, leaf.route, params, normalized)
        allowed = enabled.allowed_for(normalized, segments, skip=own)
        if allowed:
            if self.cors and own == "OPTIONS":
                return Preflight(allowed, normalized)
            return MethodNotAllowed(allowed, normalized, preflight=self.cors)
        disabled = self._disabled.find(own, normalized, segments)
        # A disabled route whose params fail decoding does not match, as an enabled one answers 400.
        if disabled is not None and disabled[1] is not None:
            return Disabled(disabled[0].target, normalized)
        return NotFound(normalized)

    def explain(self, method: str, path: str) -> list[tuple[T, str]]:
        """Return (target, why the winner beat it) for each enabled route that also matched but lost."""
        candidates = self._enabled.match_all(method, path)
        if len(candidates) < 2:
            return []
        winner = candidates[0]
        return [(loser.target, explain_precedence(winner, loser)) for loser in candidates[1:]]

    def candidates(self, method: str, path: str) -> list[Candidate[T]]:
        """Return every enabled route of the request's method that matches `path`, best first."""
        return self._enabled.match_all(method, path)

    def entries(self) -> list[tuple[str, Route, T, bool]]:
        """Return (method, route, target, enabled) for every route: enabled ones in match order, then
        the disabled ones in match order."""
        rows = [(method, route, target, True) for method, route, target in self._enabled.entries()]
        rows += [(method, route, target, False) for method, route, target in self._disabled.entries()]
        return rows
