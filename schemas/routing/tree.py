"""The search tree (c): where routes are filed, and the depth-first walk that matches a request.

This is hapi's `Segment` tree, one per method: at each node a dict of all-literal remainders
(`fulls`), a dict of literal children, a sorted list of mixed children, one param child and one
wildcard slot. A lookup walks the request's segments, never the route list, so its cost does not grow
with the number of routes; a prepared router runs the same search written out as code (`compiled`).
Unlike hapi, every mixed route keeps its own pattern, and an empty request segment never fills `{p}`
(README's "Routes" section lists the differences). Section letters refer to the parts of the routing
rules that section summarises: (c) is matching.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterator
from typing import Generic, NamedTuple, TypeVar

from epctl.schemas.routing.mixed import MixedPattern
from epctl.schemas.routing.syntax import LITERAL, MIXED, PARAM, WILDCARD, MixedOrder, Route

T = TypeVar("T")

# Step names of `Candidate.steps` beyond the kinds of segment ('literal' to 'wildcard').
FULL_LITERAL = "full-literal"
ABSENT_OPTIONAL = "absent-optional"
ABSENT_WILDCARD = "absent-wildcard"


class Leaf(Generic[T]):
    """Where a route ends in the tree. A `{p?}` route has two: its full form and its shortened one."""

    __slots__ = ("method", "optional_edge", "route", "shortened", "target")

    def __init__(self, method: str, route: Route, target: T, shortened: bool) -> None:
        self.method = method
        self.route = route
        self.target = target
        self.shortened = shortened
        # (c) rule 4: only a last `{p?}` may take an empty last request segment ('/a/' gives b='').
        self.optional_edge = not shortened and route.short_claim is not None


class MixedChild(NamedTuple, Generic[T]):
    order: MixedOrder
    pattern: MixedPattern
    node: Node[T]


def _mixed_order(child: MixedChild[T]) -> MixedOrder:
    return child.order


class Node(Generic[T]):
    """hapi's `Segment`: the alternatives at one position of the search, each slot created on demand."""

    __slots__ = ("edge", "fulls", "literals", "mixed", "mixed_index", "param", "wildcard")

    def __init__(self) -> None:
        self.fulls: dict[str, Leaf[T]] | None = None  # all-literal remainder '/x/y' -> route
        self.literals: dict[str, Node[T]] | None = None
        self.mixed: list[MixedChild[T]] | None = None  # in MIXED ORDER
        self.mixed_index: dict[MixedOrder, MixedChild[T]] | None = None
        self.param: Node[T] | None = None  # shared by `{p}`, `{p?}` and each `{p*N}` step
        self.wildcard: Leaf[T] | None = None  # `{p*}` at this position
        self.edge: Leaf[T] | None = None  # a route whose last segment led to this node

    def add(self, leaf: Leaf[T]) -> None:
        """Store `leaf` where its route ends (hapi `Segment#add`); conflicts were checked before."""
        route = leaf.route
        segments = route.segments
        if leaf.shortened:
            segments = segments[:-1]
            tail = len(segments)
            while tail and segments[tail - 1].kind == LITERAL:
                tail -= 1
            key = "/" + "/".join(segment.text for segment in segments[tail:])
        else:
            key = route.literal_suffix
            tail = len(segments) - key.count("/") if key else len(segments)
        # `segments[tail:]` are all literal: they become the `fulls` entry `key` ('/x/y') at the node
        # reached there.
        node: Node[T] = self
        last = len(segments) - 1
        for index in range(tail):
            segment = segments[index]
            kind = segment.kind
            child: Node[T] | None
            if kind == LITERAL:
                if node.literals is None:
                    node.literals = {}
                child = node.literals.get(segment.text)
                if child is None:
                    child = node.literals[segment.text] = Node()
                node = child
                continue
            if kind == WILDCARD:
                node.wildcard = leaf
                return
            if kind == MIXED:
                assert segment.order is not None and segment.pattern is not None
                if node.mixed is None or node.mixed_index is None:
                    node.mixed, node.mixed_index = [], {}
                mixed = node.mixed_index.get(segment.order)
                if mixed is None:
                    mixed = MixedChild(segment.order, segment.pattern, Node())
                    node.mixed_index[segment.order] = mixed
                    insort(node.mixed, mixed, key=_mixed_order)
                child = mixed.node
            else:
                if node.param is None:
                    node.param = Node()
                child = node.param
            if index == last:
                child.edge = leaf
                return
            node = child
        # From `tail` on every segment is literal (maybe none: the shortened '/{p?}' is '/').
        if node.fulls is None:
            node.fulls = {}
        node.fulls[key] = leaf


def find_leaf(
    node: Node[T], path: str, pos: int, segments: list[str], index: int, values: list[str]
) -> Leaf[T] | None:
    """Return the first route that matches, depth-first (hapi `Segment#lookup` and `deeper`), or None.

    `path[pos:]` is the remaining path text R, `segments[index]` the current request segment s;
    `values` collects captured raw values and is restored on backtracking.
    """
    # (c) 1. a route whose remaining segments are all literal and spell R exactly.
    fulls = node.fulls
    if fulls is not None:
        leaf = fulls.get(path[pos:])
        if leaf is not None:
            return leaf
    current = segments[index]
    following = index + 1
    at_end = following == len(segments)
    next_pos = pos + len(current) + 1
    # (c) 2. a literal segment equal to s, byte-exact.
    literals = node.literals
    if literals is not None:
        child = literals.get(current)
        if child is not None:
            if at_end:
                found = child.edge or child.wildcard
            else:
                found = find_leaf(child, path, next_pos, segments, following, values)
            if found is not None:
                return found
    # (c) 3. mixed segments in MIXED ORDER, each with its own pattern.
    mixed = node.mixed
    if mixed is not None:
        mark = len(values)
        for entry in mixed:
            groups = entry.pattern.match(current)
            if groups is not None:
                values.extend(groups)
                child = entry.node
                if at_end:
                    found = child.edge or child.wildcard
                else:
                    found = find_leaf(child, path, next_pos, segments, following, values)
                if found is not None:
                    return found
                del values[mark:]
    # (c) 4. a whole-segment param. An empty segment never fills one (hapi bug 1), except that a last
    # `{p?}` takes an empty last segment as ''.
    child = node.param
    if child is not None:
        if current:
            values.append(current)
            if at_end:
                found = child.edge or child.wildcard
            else:
                found = find_leaf(child, path, next_pos, segments, following, values)
            if found is not None:
                return found
            values.pop()
        elif at_end and child.edge is not None and child.edge.optional_edge:
            values.append(current)
            return child.edge
    # (c) 5. a `{p*}` here takes R without its leading '/', possibly '' or holding '/'.
    leaf = node.wildcard
    if leaf is not None:
        values.append(path[pos + 1 :])
        return leaf
    return None


Found = tuple[Leaf[T], list[str], list[str]]


def walk_leaves(
    node: Node[T], path: str, pos: int, segments: list[str], index: int, values: list[str], steps: list[str]
) -> Iterator[Found[T]]:
    """Yield (leaf, raw values, steps) for every route that matches, in the order `find_leaf` tries
    them (so the first is its answer)."""
    fulls = node.fulls
    if fulls is not None:
        leaf = fulls.get(path[pos:])
        if leaf is not None:
            yield leaf, values, steps + [FULL_LITERAL] * (len(segments) - index)
    current = segments[index]
    following = index + 1
    next_pos = pos + len(current) + 1
    if node.literals is not None:
        child = node.literals.get(current)
        if child is not None:
            yield from _walk_deeper(child, path, next_pos, segments, following, values, [*steps, LITERAL])
    for entry in node.mixed or ():
        groups = entry.pattern.match(current)
        if groups is not None:
            captured = [*values, *groups]
            yield from _walk_deeper(
                entry.node, path, next_pos, segments, following, captured, [*steps, MIXED]
            )
    child = node.param
    if child is not None:
        if current:
            yield from _walk_deeper(
                child, path, next_pos, segments, following, [*values, current], [*steps, PARAM]
            )
        elif following == len(segments) and child.edge is not None and child.edge.optional_edge:
            yield child.edge, [*values, current], [*steps, PARAM]
    if node.wildcard is not None:
        yield node.wildcard, [*values, path[pos + 1 :]], steps + [WILDCARD] * (len(segments) - index)


def _walk_deeper(
    child: Node[T], path: str, pos: int, segments: list[str], index: int, values: list[str], steps: list[str]
) -> Iterator[Found[T]]:
    if index < len(segments):
        yield from walk_leaves(child, path, pos, segments, index, values, steps)
        return
    # (c) "continue" after the last request segment: a route ending here, then an absent wildcard.
    if child.edge is not None:
        yield child.edge, values, steps
    if child.wildcard is not None:
        yield child.wildcard, values, [*steps, ABSENT_WILDCARD]
