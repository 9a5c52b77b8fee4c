"""Route syntax, conflicts and matching: hapi's rules as stated in reference/routing-semantics.md.

Pure: no IO, no werkzeug. `validate`, `routes`, `match` and `serve` all use this one model, so what CI
accepts is exactly what the server does. Section letters in comments refer to that document: (a) syntax,
(b) conflicts, (c) matching.

The match structure is hapi's `Segment` tree (call `lib/segment.js`), one per method: at each node a
dict of all-literal remainders (`fulls`), a dict of literal children, a sorted list of mixed children,
one param child and one wildcard slot. A lookup walks the request's segments, never the route list, so
its cost does not grow with the number of routes. Unlike hapi, every mixed route keeps its own regex,
an empty request segment never fills `{p}`, and any `[A-Za-z0-9_]+` param name works.
"""

from __future__ import annotations

import re
import threading
from bisect import insort
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Generic, NamedTuple, TypeVar

__all__ = [
    "METHODS",
    "Candidate",
    "Match",
    "Route",
    "RouteConflictError",
    "RouteSyntaxError",
    "RouteTable",
    "Segment",
    "decode_param",
    "explain_precedence",
    "normalize_path",
    "parse_route",
]

T = TypeVar("T")

#: Methods a route may be declared for. HEAD is not one: hapi refuses HEAD routes, GET routes serve it.
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# (a) The characters a route literal may hold as is, and that a request has decoded for it (c, step 2).
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"

# (a) hapi's grammar (`regex.js generate()`), taken segment by segment. Python's `\w` is Unicode and its
# `$` matches before a final newline, so classes are spelled out and every test is a fullmatch.
_LITERAL_RE = re.compile(r"(?:[A-Za-z0-9_!$&'()*+,;=:@\-.~]|%[0-9A-F]{2})+")
_WHOLE_PARAM_RE = re.compile(r"\{([A-Za-z0-9_]+)(?:(\*)([1-9][0-9]*)?|(\?))?\}")
_MIXED_PARAM_RE = re.compile(r"\{([A-Za-z0-9_]+)(\?)?\}")
# (a) `validatePathEncoded`, without the `g` flag that makes hapi's check skip text after a rejection
# (bug 4). The grammar admits only uppercase hex, so only uppercase escapes need to be listed.
_ENCODED_UNRESERVED_RE = re.compile("%(?:" + "|".join(f"{ord(c):02X}" for c in sorted(_UNRESERVED)) + ")")

# (c) step 2: uppercase every `%xx`, then decode the unreserved ones. One substitution through a table
# does both: a decoded character is never `%`, so no new escape can appear.
_ESCAPE_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_HEX = "0123456789abcdefABCDEF"
_NORMALIZED_ESCAPES = {
    f"%{hi}{lo}": (chr(int(hi + lo, 16)) if chr(int(hi + lo, 16)) in _UNRESERVED else f"%{hi}{lo}".upper())
    for hi in _HEX
    for lo in _HEX
}

# (c) params: strict UTF-8 percent-decoding (`decode.js`); a `%` not followed by two hex digits fails.
_BAD_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE_RUN_RE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")

# Step names of `Candidate.steps`; 'literal' to 'wildcard' are also the kinds of `Segment`.
_FULL = "full-literal"
_LITERAL = "literal"
_MIXED = "mixed"
_PARAM = "param"
_OPTIONAL = "optional"
_WILDCARD = "wildcard"
_ABSENT_OPTIONAL = "absent-optional"
_ABSENT_WILDCARD = "absent-wildcard"
# Listing order of the kinds of route segment (`RouteTable.entries`), the precedence of the search.
_KIND_RANK = {_LITERAL: 0, _MIXED: 1, _PARAM: 2, _OPTIONAL: 3, _WILDCARD: 4}


class RouteSyntaxError(ValueError):
    """An invalid route path; `str(err)` is exactly hapi's message.

    One of `Invalid path: <path>`, `Path cannot contain encoded non-reserved path characters: <path>` or
    `Cannot repeat the same parameter name: <name> in: <path>`.
    """

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class Segment(NamedTuple):
    """One parsed route segment; `{p*N}` is N `param` segments, as in hapi's `analyze`."""

    kind: str  # 'literal' | 'mixed' | 'param' | 'optional' | 'wildcard'
    text: str  # the fingerprint piece: literal text, '?', '#', or mixed text with params as '?'
    source: str  # as written: 'items', '{id}', '{p*2}', '{name}.{ext}'
    names: tuple[str, ...] = ()  # params this segment captures, in order
    pattern: re.Pattern[str] | None = None  # mixed only: `lit(.+)lit(.*)...`, used with fullmatch
    order: tuple[object, ...] = ()  # mixed only: sort key of the MIXED ORDER (c), unique per regex


@dataclass(frozen=True, slots=True, repr=False)
class Route:
    """A parsed route path. Build it with `parse_route`; equal routes have equal paths.

    The fields after `params` are derived from the path, precomputed so `RouteTable.add` stays cheap.
    """

    path: str
    fingerprint: str
    params: tuple[str, ...]
    segments: tuple[Segment, ...] = field(default=(), compare=False)
    # One name per captured value, in capture order: `{p*2}` captures two values named p, joined by '/'.
    captures: tuple[str, ...] = field(default=(), compare=False)
    # The second claim of a route ending in `{p?}` (b): its fingerprint without that segment.
    short_claim: str | None = field(default=None, compare=False)
    # The path text of the literal segments that end the route, which hapi files under `_fulls`: '/end'
    # for '/x/{p}/end', the whole path when every segment is literal, '' when the last is not literal.
    literal_suffix: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return f"<Route {self.path}>"

    @property
    def optional_last(self) -> bool:
        """Whether the route ends with a whole-segment `{p?}` (and so also matches without it)."""
        return self.short_claim is not None

    @property
    def claims(self) -> tuple[str, ...]:
        """Return the fingerprints this route claims (b): its own, and without its last `{p?}`."""
        if self.short_claim is not None:
            return (self.fingerprint, self.short_claim)
        return (self.fingerprint,)


# hapi sets no bound on N in `{p*N}`; epctl does, so a typo like `{p*999999999}` is a problem to report
# rather than a fingerprint that exhausts memory. No real path has more segments than this.
MAX_MULTI_SEGMENTS = 64


class _MultiSegmentLimitError(Exception):
    """Internal: a `{p*N}` with N over MAX_MULTI_SEGMENTS."""


class _InvalidSegmentError(Exception):
    """Internal: a segment breaks the grammar; `parse_route` turns it into `Invalid path: <path>`."""


class _Written(NamedTuple):
    """What one segment as written stands for; cached, since route sets repeat 'items', '{id}'..."""

    segments: tuple[Segment, ...]  # N for `{p*N}`, else one
    names: tuple[str, ...]  # param names, once each
    captures: tuple[str, ...]  # one name per captured value
    fingerprint: str  # its part of the route fingerprint: '?/?' for `{p*2}`
    last_only: bool  # '' (a trailing slash), `{p?}` and `{p*}` may only be the last segment
    literal: bool


@lru_cache(maxsize=4096)
def _compile_mixed(pattern: str) -> re.Pattern[str]:
    # DOTALL: a mixed param takes any character; hapi's `.` only stops at line terminators, which a
    # request path cannot carry raw.
    return re.compile(pattern, re.DOTALL)


@lru_cache(maxsize=8192)
def _parse_segment(text: str) -> _Written:
    """Return what `text` stands for, or raise _InvalidSegmentError when it breaks the grammar (a)."""
    if "{" not in text:
        if text == "" or _LITERAL_RE.fullmatch(text):
            return _Written((Segment(_LITERAL, text, text),), (), (), text, text == "", True)
        raise _InvalidSegmentError
    whole = _WHOLE_PARAM_RE.fullmatch(text)
    if whole is not None:
        name, star, count, optional = whole.groups()
        if star and count:
            steps = int(count)
            if steps > MAX_MULTI_SEGMENTS:
                raise _MultiSegmentLimitError
            segment = Segment(_PARAM, "?", text, (name,))
            return _Written((segment,) * steps, (name,), (name,) * steps, "/".join("?" * steps), False, False)
        if star:
            return _Written((Segment(_WILDCARD, "#", text, (name,)),), (name,), (name,), "#", True, False)
        kind = _OPTIONAL if optional else _PARAM
        return _Written((Segment(kind, "?", text, (name,)),), (name,), (name,), "?", bool(optional), False)
    segment = _parse_mixed(text)
    return _Written((segment,), segment.names, segment.names, segment.text, False, False)


def _parse_mixed(text: str) -> Segment:
    # split() gives [literal, name, '?'|None, literal, name, '?'|None, ..., literal].
    parts = _MIXED_PARAM_RE.split(text)
    chunks: list[str] = parts[0::3]
    names: tuple[str, ...] = tuple(parts[1::3])
    optional = tuple(bool(flag) for flag in parts[2::3])
    if not names:
        raise _InvalidSegmentError
    for index, chunk in enumerate(chunks):
        if chunk:
            # Leftover braces (`a{b*}`, `{a`) fail here: braces are not literal characters.
            if not _LITERAL_RE.fullmatch(chunk):
                raise _InvalidSegmentError
        elif 0 < index < len(chunks) - 1:
            raise _InvalidSegmentError  # (a) two params need a literal between them: `{a}{b}`
    literals = [chunk for chunk in chunks if chunk]
    if not literals:
        raise _InvalidSegmentError
    regex = []
    for index, chunk in enumerate(chunks):
        regex.append(re.escape(chunk))
        if index < len(names):
            # (c) `(.+)` for `{p}`, `(.*)` for `{p?}`, greedy: `{a}.{b}` on 'a.b.c' gives a='a.b'.
            regex.append("(.*)" if optional[index] else "(.+)")
    # (c) MIXED ORDER (`internals.mixed`): more parts first, then literal-first before param-first, then
    # at the first differing literal chunk the longer one, equal lengths by code units. hapi stops there
    # and shares one node (and its first regex, bug 2) between `a{p}` and `a{q?}`; here each keeps its
    # own regex, and required-before-optional breaks the tie so declaration order never matters.
    order = (
        -(len(literals) + len(names)),
        chunks[0] == "",
        tuple((-len(chunk), chunk) for chunk in literals),
        optional,
    )
    return Segment(_MIXED, "?".join(chunks), text, names, _compile_mixed("".join(regex)), order)


def parse_route(path: str) -> Route:
    """Return the parsed `path`, or raise RouteSyntaxError with hapi's message (a).

    Checks run in hapi's order: the grammar, then encoded unreserved characters, then repeated names.
    """
    written = path.split("/")
    last = len(written) - 1
    if written[0] or not last:
        raise RouteSyntaxError(f"Invalid path: {path}", path)  # (a) must start with '/'
    segments: list[Segment] = []
    fingerprint: list[str] = [""]
    params: list[str] = []
    captures: list[str] = []
    repeated = None
    last_param = 0  # the written index of the last segment that is not literal
    try:
        for index in range(1, last + 1):
            steps, names, captured, piece, last_only, literal = _parse_segment(written[index])
            if last_only and index != last:
                # (a) no empty segment but a trailing one; `{p?}` and `{p*}` only last, no trailing slash.
                raise _InvalidSegmentError
            segments += steps
            fingerprint.append(piece)
            if not literal:
                last_param = index
                captures += captured
                for name in names:
                    # (a) the first repeat in segment order, reported only if the path is otherwise valid.
                    if repeated is None and name in params:
                        repeated = name
                    params.append(name)
    except _InvalidSegmentError:
        raise RouteSyntaxError(f"Invalid path: {path}", path) from None
    except _MultiSegmentLimitError:
        message = f"A {{p*N}} parameter spans at most {MAX_MULTI_SEGMENTS} segments: {path}"
        raise RouteSyntaxError(message, path) from None
    if "%" in path and _ENCODED_UNRESERVED_RE.search(path):
        raise RouteSyntaxError(f"Path cannot contain encoded non-reserved path characters: {path}", path)
    if repeated is not None:
        raise RouteSyntaxError(f"Cannot repeat the same parameter name: {repeated} in: {path}", path)
    short_claim = None
    if segments[-1].kind == _OPTIONAL:
        short_claim = "/".join(fingerprint[:-1]) or "/"
    names_tuple = tuple(params)
    # Without `{p*N}` the captures are the params: share the tuple (fewer objects for 10,000 routes).
    captures_tuple = names_tuple if len(captures) == len(params) else tuple(captures)
    if not last_param:
        literal_suffix = path
    elif last_param == last:
        literal_suffix = ""
    else:
        literal_suffix = "/" + "/".join(written[last_param + 1 :])
    return _new_route(
        path, "/".join(fingerprint), names_tuple, tuple(segments), captures_tuple, short_claim, literal_suffix
    )


# A frozen dataclass's __init__ sets each field through object.__setattr__, which costs as much as the
# rest of parse_route; the slot descriptors set them at half the price (10,000 routes in < 0.1 s).
_ROUTE_FIELDS = ("path", "fingerprint", "params", "segments", "captures", "short_claim", "literal_suffix")
assert tuple(item.name for item in fields(Route)) == _ROUTE_FIELDS, "keep _new_route in step with Route"
_set_path, _set_fingerprint, _set_params, _set_segments, _set_captures, _set_short, _set_suffix = (
    Route.__dict__[name].__set__ for name in _ROUTE_FIELDS
)


def _new_route(
    path: str,
    fingerprint: str,
    params: tuple[str, ...],
    segments: tuple[Segment, ...],
    captures: tuple[str, ...],
    short_claim: str | None,
    literal_suffix: str,
) -> Route:
    route: Route = object.__new__(Route)
    _set_path(route, path)
    _set_fingerprint(route, fingerprint)
    _set_params(route, params)
    _set_segments(route, segments)
    _set_captures(route, captures)
    _set_short(route, short_claim)
    _set_suffix(route, literal_suffix)
    return route


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


class _Leaf(Generic[T]):
    """Where a route ends in the tree. A `{p?}` route has two: its full form and its shortened one."""

    __slots__ = ("method", "optional_edge", "route", "shortened", "target")

    def __init__(self, method: str, route: Route, target: T, shortened: bool) -> None:
        self.method = method
        self.route = route
        self.target = target
        self.shortened = shortened
        # (c) rule 4: only a last `{p?}` may take an empty last request segment ('/a/' gives b='').
        self.optional_edge = not shortened and route.short_claim is not None


class _MixedChild(NamedTuple):
    order: tuple[object, ...]
    pattern: re.Pattern[str]
    node: _Node


class _Node:
    """hapi's `Segment`: the alternatives at one position of the search, each slot created on demand."""

    __slots__ = ("edge", "fulls", "literals", "mixed", "mixed_index", "param", "wildcard")

    def __init__(self) -> None:
        self.fulls: dict[str, _Leaf[object]] | None = None  # all-literal remainder '/x/y' -> route
        self.literals: dict[str, _Node] | None = None
        self.mixed: list[_MixedChild] | None = None  # in MIXED ORDER
        self.mixed_index: dict[tuple[object, ...], _MixedChild] | None = None
        self.param: _Node | None = None  # shared by `{p}`, `{p?}` and each `{p*N}` step
        self.wildcard: _Leaf[object] | None = None  # `{p*}` at this position
        self.edge: _Leaf[object] | None = None  # a route whose last segment led to this node

    def add(self, leaf: _Leaf[object]) -> None:
        """Store `leaf` where its route ends (hapi `Segment#add`); conflicts were checked before."""
        route = leaf.route
        segments = route.segments
        if leaf.shortened:
            segments = segments[:-1]
            tail = len(segments)
            while tail and segments[tail - 1].kind == _LITERAL:
                tail -= 1
            key = "/" + "/".join(segment.text for segment in segments[tail:])
        else:
            key = route.literal_suffix
            tail = len(segments) - key.count("/") if key else len(segments)
        # `segments[tail:]` are all literal: they become the `fulls` entry `key` ('/x/y') at the node
        # reached there.
        node = self
        last = len(segments) - 1
        for index in range(tail):
            segment = segments[index]
            kind = segment.kind
            if kind == _LITERAL:
                if node.literals is None:
                    node.literals = {}
                child = node.literals.get(segment.text)
                if child is None:
                    child = node.literals[segment.text] = _Node()
                node = child
                continue
            if kind == _WILDCARD:
                node.wildcard = leaf
                return
            if kind == _MIXED:
                if node.mixed is None or node.mixed_index is None:
                    node.mixed, node.mixed_index = [], {}
                mixed = node.mixed_index.get(segment.order)
                if mixed is None:
                    assert segment.pattern is not None
                    mixed = _MixedChild(segment.order, segment.pattern, _Node())
                    node.mixed_index[segment.order] = mixed
                    insort(node.mixed, mixed, key=_mixed_order)
                child = mixed.node
            else:
                if node.param is None:
                    node.param = _Node()
                child = node.param
            if index == last:
                child.edge = leaf
                return
            node = child
        # From `tail` on every segment is literal (maybe none: the shortened '/{p?}' is '/').
        if node.fulls is None:
            node.fulls = {}
        node.fulls[key] = leaf


def _mixed_order(child: _MixedChild) -> tuple[object, ...]:
    return child.order


def _find(
    node: _Node, path: str, pos: int, segments: list[str], index: int, values: list[str]
) -> _Leaf[object] | None:
    """Return the first route that matches, depth-first (hapi `Segment#lookup` and `deeper`).

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
                found = _find(child, path, next_pos, segments, following, values)
            if found is not None:
                return found
    # (c) 3. mixed segments in MIXED ORDER, each with its own regex.
    mixed = node.mixed
    if mixed is not None:
        mark = len(values)
        for entry in mixed:
            groups = entry.pattern.fullmatch(current)
            if groups is not None:
                values.extend(groups.groups())
                child = entry.node
                if at_end:
                    found = child.edge or child.wildcard
                else:
                    found = _find(child, path, next_pos, segments, following, values)
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
                found = _find(child, path, next_pos, segments, following, values)
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


def _walk(
    node: _Node, path: str, pos: int, segments: list[str], index: int, values: list[str], steps: list[str]
) -> Iterator[tuple[_Leaf[object], list[str], list[str]]]:
    """Yield every route that matches, in the order `_find` tries them (so the first is its answer)."""
    fulls = node.fulls
    if fulls is not None:
        leaf = fulls.get(path[pos:])
        if leaf is not None:
            yield leaf, values, steps + [_FULL] * (len(segments) - index)
    current = segments[index]
    following = index + 1
    next_pos = pos + len(current) + 1
    if node.literals is not None:
        child = node.literals.get(current)
        if child is not None:
            yield from _walk_deeper(child, path, next_pos, segments, following, values, [*steps, _LITERAL])
    for entry in node.mixed or ():
        groups = entry.pattern.fullmatch(current)
        if groups is not None:
            captured = values + list(groups.groups())
            yield from _walk_deeper(
                entry.node, path, next_pos, segments, following, captured, [*steps, _MIXED]
            )
    child = node.param
    if child is not None:
        if current:
            yield from _walk_deeper(
                child, path, next_pos, segments, following, [*values, current], [*steps, _PARAM]
            )
        elif following == len(segments) and child.edge is not None and child.edge.optional_edge:
            yield child.edge, [*values, current], [*steps, _PARAM]
    if node.wildcard is not None:
        yield node.wildcard, [*values, path[pos + 1 :]], steps + [_WILDCARD] * (len(segments) - index)


def _walk_deeper(
    child: _Node, path: str, pos: int, segments: list[str], index: int, values: list[str], steps: list[str]
) -> Iterator[tuple[_Leaf[object], list[str], list[str]]]:
    if index < len(segments):
        yield from _walk(child, path, pos, segments, index, values, steps)
        return
    # (c) "continue" after the last request segment: a route ending here, then an absent wildcard.
    if child.edge is not None:
        yield child.edge, values, steps
    if child.wildcard is not None:
        yield child.wildcard, values, [*steps, _ABSENT_WILDCARD]


def normalize_path(raw: str) -> str:
    """Return the request path as hapi routes it (c, steps 1-3).

    Cuts `?query` and `#fragment`, uppercases `%xx` and decodes escaped unreserved characters, resolves
    `.` and `..` segments. No trailing-slash stripping, no case folding. '' (an empty PATH_INFO) is '/'.
    """
    if "?" in raw:
        raw = raw.split("?", 1)[0]
    if "#" in raw:
        raw = raw.split("#", 1)[0]
    if not raw:
        return "/"
    if "%" in raw:
        raw = _ESCAPE_RE.sub(_normalize_escape, raw)
    if "/." in raw:
        raw = _resolve_dots(raw)
    return raw


def _normalize_escape(escape: re.Match[str]) -> str:
    return _NORMALIZED_ESCAPES[escape.group()]


def _resolve_dots(path: str) -> str:
    # hapi `Router#normalize`: '..' drops the previous segment (even the leading ''), a final '.' or '..'
    # leaves a trailing slash, and a leading slash lost to '..' comes back ('/..' -> '/').
    written = path.split("/")
    kept: list[str] = []
    for segment in written:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if written[-1] in (".", ".."):
        kept.append("")
    resolved = "/".join(kept)
    if not resolved.startswith("/") and path.startswith("/"):
        resolved = "/" + resolved
    return resolved


def decode_param(raw: str) -> str | None:
    """Return `raw` percent-decoded as strict UTF-8, or None when it is not valid (-> 400).

    Like JavaScript's `decodeURIComponent`: `+` stays `+`, `%2F` gives '/', `%00` NUL; a lone `%`,
    `%zz`, a truncated or overlong sequence or an encoded surrogate fails.
    """
    if "%" not in raw:
        return raw
    if _BAD_ESCAPE_RE.search(raw):
        return None
    try:
        return _ESCAPE_RUN_RE.sub(_decode_run, raw)
    except UnicodeDecodeError:
        return None


def _decode_run(run: re.Match[str]) -> str:
    return bytes.fromhex(run.group().replace("%", "")).decode("utf-8")


def _decode_values(route: Route, values: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    # zip stops at the shorter: an absent last `{p?}` or `{p*}` has no value, so its key stays absent.
    for name, raw in zip(route.captures, values, strict=False):
        value = decode_param(raw)
        if value is None:
            return None
        # `{p*N}` values are decoded one by one, then joined with '/' (hapi `_lookup`).
        params[name] = params[name] + "/" + value if name in params else value
    return params


class _Table(Generic[T]):
    """One method's routes: the claims for conflict checks (b) and the search tree (c)."""

    __slots__ = ("building", "claims", "leaves", "pending", "root")

    def __init__(self) -> None:
        self.claims: dict[str, _Leaf[T]] = {}
        self.leaves: list[_Leaf[T]] = []
        # Leaves not yet in the tree. The tree is built at the first lookup: `validate` only needs the
        # conflict checks, and one pass over 10,000 routes is cheaper than 10,000 interleaved inserts.
        self.pending: list[_Leaf[T]] = []
        self.root = _Node()
        self.building = threading.Lock()

    def tree(self) -> _Node:
        """Return the search tree, with every added route in it."""
        if self.pending:
            # A threaded server may send its first requests at once: one thread builds while the others
            # wait, and `pending` empties only once the tree is whole.
            with self.building:
                if self.pending:
                    for leaf in self.pending:
                        self.root.add(leaf)  # type: ignore[arg-type]
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
        """Build every method's search tree now rather than at its first lookup: a server calls this
        before it forks workers, so they share one tree and no first request pays for it."""
        for table in self._tables.values():
            table.tree()

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
        leaf = _Leaf(method, route, target, False)
        claims[route.fingerprint] = leaf
        table.leaves.append(leaf)
        table.pending.append(leaf)
        if route.short_claim is not None:
            # hapi `Router#add` adds a route ending in `{p?}` a second time without that segment.
            short = _Leaf(method, route, target, True)
            claims[route.short_claim] = short
            table.pending.append(short)
        self._count += 1

    def match(self, method: str, path: str) -> Match[T]:
        """Return where `method path` goes; `path` is the raw request path, still percent-encoded.

        HEAD uses the GET table. 405 when only other methods' tables match, 404 when none does, 400 when
        the winning route's params fail decoding (no fallback to another route).
        """
        normalized = normalize_path(path)
        if not normalized.startswith("/"):
            return Match(404, None, None, {}, (), normalized)
        segments = normalized.split("/")
        own = "GET" if method == "HEAD" else method
        table = self._tables.get(own)
        if table is not None:
            values: list[str] = []
            leaf = _find(table.tree(), normalized, 0, segments, 1, values)
            if leaf is not None:
                params = _decode_values(leaf.route, values)
                if params is None:
                    return Match(400, None, leaf.route, {}, (), normalized)
                return Match(200, leaf.target, leaf.route, params, (), normalized)  # type: ignore[arg-type]
        allowed = self._allowed(normalized, segments, skip=own)
        return Match(405 if allowed else 404, None, None, {}, allowed, normalized)

    def allowed_methods(self, path: str) -> tuple[str, ...]:
        """Return the sorted methods whose tables match the raw request `path` (HEAD is not listed)."""
        normalized = normalize_path(path)
        if not normalized.startswith("/"):
            return ()
        return self._allowed(normalized, normalized.split("/"), skip=None)

    def _allowed(self, normalized: str, segments: list[str], skip: str | None) -> tuple[str, ...]:
        return tuple(
            sorted(
                method
                for method, table in self._tables.items()
                if method != skip and _find(table.tree(), normalized, 0, segments, 1, []) is not None
            )
        )

    def match_all(self, method: str, path: str) -> list[Candidate[T]]:
        """Return every route of `method`'s table that matches `path`, best first (first == `match`).

        Like `match`, HEAD uses the GET table. For explanations, not for serving.
        """
        normalized = normalize_path(path)
        table = self._tables.get("GET" if method == "HEAD" else method)
        if table is None or not normalized.startswith("/"):
            return []
        segments = normalized.split("/")
        candidates: list[Candidate[T]] = []
        seen: set[int] = set()
        for leaf, values, steps in _walk(table.tree(), normalized, 0, segments, 1, [], []):
            # The root `/{p?}` matches '/' twice (shortened, then p=''); the first one is the answer.
            if id(leaf.route) in seen:
                continue
            seen.add(id(leaf.route))
            route = leaf.route
            named = [
                _OPTIONAL if step == _PARAM and route.segments[index].kind == _OPTIONAL else step
                for index, step in enumerate(steps)
            ]
            if leaf.shortened:
                named.append(_ABSENT_OPTIONAL)
            params = _decode_values(route, values)
            candidates.append(Candidate(leaf.target, route, params, tuple(named), normalized))  # type: ignore[arg-type]
        return candidates

    def entries(self) -> list[tuple[str, Route, T]]:
        """Return every route as (method, route, target) in match order, for a route listing.

        Fewer segments first; then at the first differing segment literal < mixed < param < optional
        < wildcard, literals by code units, mixed by the MIXED ORDER; then method.
        """
        rows = [
            (leaf.method, leaf.route, leaf.target) for table in self._tables.values() for leaf in table.leaves
        ]
        rows.sort(key=lambda row: (_listing_key(row[1]), row[0], row[1].path))
        return rows


def _find_clash(claims: dict[str, _Leaf[T]], route: Route) -> _Leaf[T] | None:
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
        if segment.kind == _LITERAL:
            keys.append((rank, segment.text))
        elif segment.kind == _MIXED:
            keys.append((rank, segment.order))
        else:
            keys.append((rank,))
    return (len(route.segments), tuple(keys))


def explain_precedence(winner: Candidate[T], loser: Candidate[T]) -> str:
    """Return one sentence saying why `winner` ranks above `loser` for the same request.

    Both come from one `match_all` call. Raises ValueError when `loser` actually ranks first or both
    are the same route.
    """
    if winner.route == loser.route:
        raise ValueError(f"{winner.route.path} and {loser.route.path} are the same route")
    segments = winner.path.split("/")[1:]
    for index, current in enumerate(segments):
        won, lost = _alternative(winner, index), _alternative(loser, index)
        if won == lost:
            continue
        if won > lost:
            raise ValueError(f"{loser.route.path} ranks above {winner.route.path}")
        reason = _mixed_reason(winner, loser, index) if won[0] == lost[0] == 2 else ""
        return (
            f"segment {index + 1} ('{current}'): {_describe(winner, index, segments)} beats "
            f"{_describe(loser, index, segments)}{reason}"
        )
    won_end, lost_end = _ending(winner), _ending(loser)
    if won_end < lost_end:
        absent = ""
        if winner.steps[-1] == _ABSENT_OPTIONAL:
            absent = f" (its optional {winner.route.segments[-1].source} absent)"
        ends = f"'{winner.route.path}' ends at the request's last segment{absent}"
        return f"{ends}; an absent wildcard ranks below"
    if won_end > lost_end:
        raise ValueError(f"{loser.route.path} ranks above {winner.route.path}")
    return f"'{winner.route.path}' is found first by the depth-first search"


def _alternative(candidate: Candidate[T], index: int) -> tuple[object, ...]:
    """Rank of the alternative the candidate took at request segment `index` (c, 1-5)."""
    step = candidate.steps[index]
    if step in (_FULL, _LITERAL):
        # Trying `fulls` first is only a shortcut: an all-literal route wins exactly where walking its
        # literals one by one would win (literal first at each position, an edge before an absent
        # wildcard at the end), so both count as literal steps here.
        return (1,)
    if step == _MIXED:
        return (2, candidate.route.segments[index].order)
    if step in (_PARAM, _OPTIONAL):
        return (3,)
    return (4,)


def _ending(candidate: Candidate[T]) -> int:
    # After the last request segment a route ending there (its `{p?}` maybe absent) beats an absent `{p*}`.
    return 1 if candidate.steps[-1] == _ABSENT_WILDCARD else 0


def _describe(candidate: Candidate[T], index: int, segments: list[str]) -> str:
    step = candidate.steps[index]
    if step in (_FULL, _LITERAL):
        return f"literal '{segments[index]}'"
    if step == _WILDCARD:
        return f"wildcard {candidate.route.segments[-1].source}"
    segment = candidate.route.segments[index]
    if step == _MIXED:
        return f"mixed '{segment.source}'"
    return f"{step} {segment.source}"


def _mixed_reason(winner: Candidate[T], loser: Candidate[T], index: int) -> str:
    won = winner.route.segments[index].order
    lost = loser.route.segments[index].order
    if won[0] != lost[0]:
        return f" (more parts: {-won[0]} vs {-lost[0]})"  # type: ignore[operator]
    if won[1] != lost[1]:
        return " (literal-first before param-first)"
    for (_, won_chunk), (_, lost_chunk) in zip(won[2], lost[2], strict=True):  # type: ignore[call-overload]
        if won_chunk == lost_chunk:
            continue
        if len(won_chunk) != len(lost_chunk):
            return f" (longer literal '{won_chunk}' vs '{lost_chunk}')"
        return f" (literal '{won_chunk}' sorts before '{lost_chunk}')"
    return " (required params rank before optional ones)"
