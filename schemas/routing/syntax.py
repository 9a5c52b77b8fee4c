"""The route grammar (a): methods, `parse_route`, `Route` and its `Segment`s.

Section letters in comments name the parts of the routing rules that README's "Routes" section
summarises: (a) syntax, (b) conflicts, (c) matching. The rules are hapi's (its router `Router#analyze`
and grammar `generate()`), with the differences README lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Literal, NamedTuple, get_args

from epctl.schemas.routing.mixed import MixedPattern

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

#: Methods a route may be declared for. HEAD is not one: hapi refuses HEAD routes, GET routes serve it.
METHODS: tuple[str, ...] = get_args(Method)


def lookup_method(method: str) -> str:
    """Return the method whose routes serve a request of `method`: upper-cased, HEAD served by GET.

    This is the one place HEAD maps to GET. An unknown method is returned upper-cased; no table has it.
    """
    method = method.upper()
    return "GET" if method == "HEAD" else method


# `lookup_method` of the methods as clients send them, for the router to look up without a call.
OWN_METHODS: dict[str, str] = {method: lookup_method(method) for method in (*METHODS, "HEAD")}


# The kinds of `Segment`; also the names of the matching steps in `Candidate.steps`.
LITERAL = "literal"
MIXED = "mixed"
PARAM = "param"
OPTIONAL = "optional"
WILDCARD = "wildcard"

# (a) The characters a route literal may hold as is, and that a request has decoded for it (c, step 2).
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"

# (a) hapi's grammar, taken segment by segment. Python's `\w` is Unicode and its `$` matches before a
# final newline, so classes are spelled out and every test is a fullmatch.
_LITERAL_RE = re.compile(r"(?:[A-Za-z0-9_!$&'()*+,;=:@\-.~]|%[0-9A-F]{2})+")
_WHOLE_PARAM_RE = re.compile(r"\{([A-Za-z0-9_]+)(?:(\*)([1-9][0-9]*)?|(\?))?\}")
_MIXED_PARAM_RE = re.compile(r"\{([A-Za-z0-9_]+)(\?)?\}")
# (a) hapi's `validatePathEncoded`, without the `g` flag that makes its check skip text after a
# rejection (bug 4). The grammar admits only uppercase hex, so only uppercase escapes need listing.
_ENCODED_UNRESERVED_RE = re.compile("%(?:" + "|".join(f"{ord(c):02X}" for c in sorted(UNRESERVED)) + ")")


class RouteSyntaxError(ValueError):
    """An invalid route path; `str(err)` is exactly hapi's message.

    One of `Invalid path: <path>`, `Path cannot contain encoded non-reserved path characters: <path>` or
    `Cannot repeat the same parameter name: <name> in: <path>`.
    """

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class MixedOrder(NamedTuple):
    """Sort key of a mixed segment in the MIXED ORDER (c); unique per mixed pattern."""

    parts: int  # minus the count of literal chunks and params: more parts sort first
    param_first: bool  # literal-first sorts before param-first
    literals: tuple[tuple[int, str], ...]  # (-length, chunk): longer first, then by code units
    optional: tuple[bool, ...]  # required before optional: `a{p}` before `a{q?}`


class Segment(NamedTuple):
    """One parsed route segment; `{p*N}` is N `param` segments, as in hapi's `analyze`."""

    kind: str  # LITERAL | MIXED | PARAM | OPTIONAL | WILDCARD
    text: str  # the fingerprint piece: literal text, '?', '#', or mixed text with params as '?'
    source: str  # as written: 'items', '{id}', '{p*2}', '{name}.{ext}'
    names: tuple[str, ...] = ()  # params this segment captures, in order
    pattern: MixedPattern | None = None  # mixed only
    order: MixedOrder | None = None  # mixed only


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
    def catch_all(self) -> bool:
        """Whether the route ends with a `{p*}` wildcard (it answers every path under its prefix)."""
        return self.segments[-1].kind == WILDCARD

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


# hapi sets no bound on N in `{p*N}`; epctl does. `{p*N}` stands for N params, each a node of the
# search tree. With N up to 64, routes like `/aN/{p*64}` cost 560 bytes of memory per byte of route
# text (20,000 of them: 150 MB, 5 s to build), five times the costliest ordinary routes (about 110
# bytes per byte: literal segments before a param). Up to 16 it is 180, so memory and build time stay
# proportional to the text whatever a project holds; and a typo like `{p*999999999}` is a problem.
MAX_MULTI_SEGMENTS = 16


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


@lru_cache(maxsize=8192)
def _parse_segment(text: str) -> _Written:
    """Return what `text` stands for, or raise _InvalidSegmentError when it breaks the grammar (a)."""
    if "{" not in text:
        if text == "" or _LITERAL_RE.fullmatch(text):
            return _Written((Segment(LITERAL, text, text),), (), (), text, text == "", True)
        raise _InvalidSegmentError
    whole = _WHOLE_PARAM_RE.fullmatch(text)
    if whole is not None:
        name, star, count, optional = whole.groups()
        if star and count:
            # Compare lengths first: int() of thousands of digits is slow, and past 4300 it raises.
            if len(count) > len(str(MAX_MULTI_SEGMENTS)) or int(count) > MAX_MULTI_SEGMENTS:
                raise _MultiSegmentLimitError
            steps = int(count)
            segment = Segment(PARAM, "?", text, (name,))
            return _Written((segment,) * steps, (name,), (name,) * steps, "/".join("?" * steps), False, False)
        if star:
            return _Written((Segment(WILDCARD, "#", text, (name,)),), (name,), (name,), "#", True, False)
        kind = OPTIONAL if optional else PARAM
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
    # (c) MIXED ORDER (hapi's `internals.mixed`): more parts first, then literal-first before
    # param-first, then at the first differing literal chunk the longer one, equal lengths by code
    # units. hapi stops there and shares one node (and its first regex, bug 2) between `a{p}` and
    # `a{q?}`; here each keeps its own, and required-before-optional breaks the tie so declaration order
    # never matters.
    order = MixedOrder(
        -(len(literals) + len(names)),
        chunks[0] == "",
        tuple((-len(chunk), chunk) for chunk in literals),
        optional,
    )
    # (c) each param takes `(.+)` for `{p}` and `(.*)` for `{p?}`, greedy: `{a}.{b}` on 'a.b.c' gives
    # a='a.b'. MixedPattern gives that regex's answer in linear time.
    pattern = MixedPattern(tuple(chunks), optional)
    return Segment(MIXED, "?".join(chunks), text, names, pattern, order)


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
    if segments[-1].kind == OPTIONAL:
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
