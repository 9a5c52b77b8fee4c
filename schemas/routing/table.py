"""`RouteTable`: routes of every method with their targets, conflict checks (b) and matching (c).

Section letters refer to the parts of the routing rules that README's "Routes" section summarises.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

from epctl.schemas.routing.compiled import Finder, compile_finder, walk_finder
from epctl.schemas.routing.paths import decode_values, normalize_path
from epctl.schemas.routing.syntax import (
    LITERAL,
    METHODS,
    MIXED,
    OPTIONAL,
    PARAM,
    WILDCARD,
    Route,
    lookup_method,
)
from epctl.schemas.routing.tree import ABSENT_OPTIONAL, Leaf, Node, walk_leaves

T = TypeVar("T")

# Listing order of the kinds of route segment (`RouteTable.entries`), the precedence of the search.
_KIND_RANK = {LITERAL: 0, MIXED: 1, PARAM: 2, OPTIONAL: 3, WILDCARD: 4}


class RouteConflictError(Exception, Generic[T]):
    """A route that clashes with an accepted one of the same method (b).

    `str(err)` is `New route <new path> conflicts with existing <existing path>`, paths as written.
    """

    def __init__(self, method: str, route: Route, existing_route: Route, existing: T) -> None:
        super().__init__(f"New route {route.path} conflicts with existing {existing_route.path}")
        self.method = method
        self.route = route
        self.existing_route = existing_route
        self.existing = existing


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    """What a request reaches in a RouteTable.

    `status`: 200 matched, 404 no route of any method, 405 only routes of other methods, 400 the winning
    route's params are not valid percent-encoded UTF-8 (`route` is then set, `target` is None).
    `params`: decoded values; an absent `{p?}` or `{p*}` is an absent key. `allowed`: the sorted methods
    whose tables match the path, computed when the request's own table misses (405; empty for 404); it
    is () for 200 and 400 so the hot path stays one lookup (`RouteTable.allowed_methods` gives it
    always). `path`: the normalized path that was matched.
    """

    status: int
    target: T | None
    route: Route | None
    params: dict[str, str]
    allowed: tuple[str, ...]
    path: str


@dataclass(frozen=True, slots=True)
class Candidate(Generic[T]):
    """One route that matches a request, as listed by `RouteTable.match_all`.

    `params` is None when its values fail decoding. `steps` says how each request segment was consumed
    ('full-literal', 'literal', 'mixed', 'param', 'optional', 'wildcard'), plus a last 'absent-optional'
    or 'absent-wildcard' when the route's last param matched no segment. `path` is the normalized path.
    """

    target: T
    route: Route
    params: dict[str, str] | None
    steps: tuple[str, ...]
    path: str


class _Table(Generic[T]):
    """One method's routes: the claims for conflict checks (b) and the search tree (c)."""

    __slots__ = ("building", "claims", "find", "leaves", "pending", "root", "walk")

    def __init__(self) -> None:
        self.claims: dict[str, Leaf[T]] = {}
        self.leaves: list[Leaf[T]] = []
        # Leaves not yet in the tree. The tree is built at the first lookup: `validate` only needs the
        # conflict checks, and one pass over 10,000 routes is cheaper than 10,000 interleaved inserts.
        self.pending: list[Leaf[T]] = []
        self.root: Node[T] = Node()
        # The tree's matcher: it walks the tree, until `RouteTable.prepare` compiles it for a server.
        self.walk: Finder[T] = walk_finder(self.root)
        self.find = self.walk
        self.building = threading.Lock()

    def tree(self) -> Node[T]:
        """Return the search tree, with every added route in it."""
        if self.pending:
            # A threaded server may send its first requests at once: one thread builds while the others
            # wait, and `pending` empties only once the tree is whole.
            with self.building:
                if self.pending:
                    for leaf in self.pending:
                        self.root.add(leaf)
                    self.pending = []
        return self.root


class RouteTable(Generic[T]):
    """Routes of every method with their targets: conflict checks on `add`, hapi matching on `match`.

    Fill it from one thread; once filled, `match`, `match_all` and `entries` may run in many.
    """

    def __init__(self) -> None:
        self._tables: dict[str, _Table[T]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def prepare(self) -> None:
        """Build every method's search tree now rather than at its first lookup, and compile its
        matcher: a server calls this before it forks workers, so they share both and no first request
        pays for them. A command that matches a path or two walks the tree instead (compiling a large
        one takes longer than the walk)."""
        for method, table in self._tables.items():
            root = table.tree()
            if table.find is table.walk:
                table.find = compile_finder(root, method) or table.walk

    def add(self, method: str, route: Route, target: T) -> None:
        """Add `route` for `method` (one of METHODS), serving `target`.

        Raises RouteConflictError naming the accepted route it clashes with (b); the table is then
        unchanged, as if the route had never been declared. Raises ValueError for an unknown method.
        """
        table = self._tables.get(method)
        if table is None:
            if method not in METHODS:
                raise ValueError(f"Unknown method {method!r}: expected one of {', '.join(sorted(METHODS))}")
            table = self._tables[method] = _Table()
        claims = table.claims
        clash = _find_clash(claims, route)
        if clash is not None:
            raise RouteConflictError(method, route, clash.route, clash.target)
        leaf = Leaf(method, route, target, False)
        claims[route.fingerprint] = leaf
        table.leaves.append(leaf)
        table.pending.append(leaf)
        table.find = table.walk  # a compiled matcher does not know the new route
        if route.short_claim is not None:
            # hapi `Router#add` adds a route ending in `{p?}` a second time without that segment.
            short = Leaf(method, route, target, True)
            claims[route.short_claim] = short
            table.pending.append(short)
        self._count += 1

    def match(self, method: str, path: str) -> Match[T]:
        """Return where `method path` goes; `path` is the raw request path, still percent-encoded.

        The method goes through `lookup_method` (HEAD uses the GET table). 405 when only other methods'
        tables match, 404 when none does, 400 when the winning route's params fail decoding (no fallback
        to another route).
        """
        normalized = normalize_path(path)
        if not normalized.startswith("/"):
            return Match(404, None, None, {}, (), normalized)
        segments = normalized.split("/")
        own = lookup_method(method)
        found = self.find(own, normalized, segments)
        if found is not None:
            leaf, params = found
            if params is None:
                return Match(400, None, leaf.route, {}, (), normalized)
            return Match(200, leaf.target, leaf.route, params, (), normalized)
        allowed = self.allowed_for(normalized, segments, skip=own)
        return Match(405 if allowed else 404, None, None, {}, allowed, normalized)

    def find(
        self, own: str, normalized: str, segments: list[str]
    ) -> tuple[Leaf[T], dict[str, str] | None] | None:
        """Return the best route of method `own` (as `lookup_method` gives it) for a normalized path
        split on '/', with its decoded params (None when they fail decoding); None when none matches.

        The step `match` and `Router.match` share: the router builds its own outcome from it, so a
        request makes no intermediate `Match`.
        """
        table = self._tables.get(own)
        if table is None:
            return None
        if table.pending:
            table.tree()
        return table.find(normalized, segments)

    def allowed_methods(self, path: str) -> tuple[str, ...]:
        """Return the sorted methods whose tables match the raw request `path` (HEAD is not listed)."""
        normalized = normalize_path(path)
        if not normalized.startswith("/"):
            return ()
        return self.allowed_for(normalized, normalized.split("/"), skip=None)

    def allowed_for(self, normalized: str, segments: list[str], skip: str | None) -> tuple[str, ...]:
        """Return the sorted methods other than `skip` whose tables match a normalized, split path."""
        return tuple(
            sorted(
                method
                for method in self._tables
                if method != skip and self.find(method, normalized, segments) is not None
            )
        )

    def match_all(self, method: str, path: str) -> list[Candidate[T]]:
        """Return every route of `method`'s table that matches `path`, best first (first == `match`).

        Like `match`, the method goes through `lookup_method`. For explanations, not for serving.
        """
        normalized = normalize_path(path)
        table = self._tables.get(lookup_method(method))
        if table is None or not normalized.startswith("/"):
            return []
        segments = normalized.split("/")
        candidates: list[Candidate[T]] = []
        seen: set[int] = set()
        for leaf, values, steps in walk_leaves(table.tree(), normalized, 0, segments, 1, [], []):
            # The root `/{p?}` matches '/' twice (shortened, then p=''); the first one is the answer.
            if id(leaf.route) in seen:
                continue
            seen.add(id(leaf.route))
            route = leaf.route
            named = [
                OPTIONAL if step == PARAM and route.segments[index].kind == OPTIONAL else step
                for index, step in enumerate(steps)
            ]
            if leaf.shortened:
                named.append(ABSENT_OPTIONAL)
            params = decode_values(route, values)
            candidates.append(Candidate(leaf.target, route, params, tuple(named), normalized))
        return candidates

    def entries(self) -> list[tuple[str, Route, T]]:
        """Return every route as (method, route, target) in match order, for a route listing.

        Segment by segment, as the search tries them: at the first differing segment literal < mixed <
        param < optional < wildcard, literals by code units, mixed by the MIXED ORDER; a route that ends
        before another that it prefixes comes first (it beats an absent wildcard); then method. So the
        first listed route of a method that matches a request is the one `match` returns. (hapi's own
        listing puts fewer segments first, which lists `/api/{p*}` above the `/api/v1/x` that beats it.)
        """
        rows = [
            (leaf.method, leaf.route, leaf.target) for table in self._tables.values() for leaf in table.leaves
        ]
        rows.sort(key=lambda row: (_listing_key(row[1]), row[0], row[1].path))
        return rows


def _find_clash(claims: dict[str, Leaf[T]], route: Route) -> Leaf[T] | None:
    # (b) in the order hapi's `Segment#add` meets them, so the first failing check names the route:
    # walking the segments, the wildcard rule for a new `P/?/#` (`P/#` taken); then the full fingerprint
    # slot, and for a new `P/#` the same slot then `P/?/#`; then the shortened claim of a `{p?}` route.
    # A literal never holds '?' or '#', so a fingerprint segment that is exactly '?' is a whole param.
    fingerprint = route.fingerprint
    clash = None
    if fingerprint.endswith("/?/#"):
        clash = claims.get(fingerprint[:-4] + "/#")
    if clash is None:
        clash = claims.get(fingerprint)
    if clash is None and fingerprint.endswith("/#"):
        clash = claims.get(fingerprint[:-2] + "/?/#")
    if clash is None and route.short_claim is not None:
        clash = claims.get(route.short_claim)
    return clash


def _listing_key(route: Route) -> tuple[object, ...]:
    keys: list[tuple[object, ...]] = []
    for segment in route.segments:
        rank = _KIND_RANK[segment.kind]
        if segment.kind == LITERAL:
            keys.append((rank, segment.text))
        elif segment.kind == MIXED:
            keys.append((rank, segment.order))
        else:
            keys.append((rank,))
    return tuple(keys)
