"""Properties of parsing, conflicts and matching that hold for every input (hypothesis, fixed seed).

Each property draws few values per example: hypothesis's own cost per example dominates these tests.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from epctl.schemas.routing import (
    Matched,
    Route,
    RouteConflictError,
    Router,
    RouteSyntaxError,
    decode_param,
    parse_route,
)

PROPERTY = settings(derandomize=True, max_examples=150, deadline=None)

# Parsing ---------------------------------------------------------------------------------------------

# Characters that steer parse_route into every branch of the grammar: braces, `?`, `*`, digits for
# `{p*N}`, escapes (valid, lowercase, encoded unreserved), a space, non-ASCII, a newline.
_ROUTE_CHARACTERS = "/{}?*ab_019%2FAe. -é\n"


@PROPERTY
@given(st.one_of(st.text(max_size=40), st.text(_ROUTE_CHARACTERS, max_size=40)))
def test_parsing_raises_only_route_syntax_errors(path: str) -> None:
    try:
        route = parse_route(path)
    except RouteSyntaxError as err:
        assert err.path == path
        assert str(err).endswith(path)
    else:
        assert route.path == path


# A route matches the paths made from it ----------------------------------------------------------------

# Request forms of a param value, with what the param decodes to. None contains '!' (the chunk of the
# mixed segment below) or '/', so each value lands in its own param.
_VALUES = {
    "x": "x",
    "Ab9": "Ab9",
    "-_~": "-_~",
    "x.y": "x.y",
    "+": "+",
    "%20": " ",
    "%C3%A9": "é",
    "a%2Fb": "a/b",
    "%61": "a",
}
_KINDS = ("literal", "param", "multi", "mixed")
_ENDINGS = ("none", "slash", "optional", "optional-empty", "optional-absent", "wildcard", "wildcard-absent")


def made_from(kinds: list[tuple[str, str]], ending: str, last: str) -> tuple[str, str, dict[str, str]]:
    """Return (route, a request path it matches, the params that request gives)."""
    route, request, params = [], [], {}
    for index, (kind, value) in enumerate(kinds):
        name, decoded = f"p{index}", _VALUES[value]
        if kind == "literal":
            route.append(f"l{index}")
            request.append(f"l{index}")
        elif kind == "param":
            route.append(f"{{{name}}}")
            request.append(value)
            params[name] = decoded
        elif kind == "multi":
            route.append(f"{{{name}*2}}")
            request += [value, "z"]
            params[name] = decoded + "/z"
        else:
            route.append(f"m{{{name}}}!{{q{index}?}}")
            request.append(f"m{value}!{value}")
            params.update({name: decoded, f"q{index}": decoded})
    if ending == "slash":
        route.append("")
        request.append("")
    elif ending.startswith("optional"):
        route.append("{end?}")
        if ending == "optional":
            request.append(last)
            params["end"] = _VALUES[last]
        elif ending == "optional-empty":
            request.append("")
            params["end"] = ""
    elif ending.startswith("wildcard"):
        route.append("{rest*}")
        if ending == "wildcard":
            request += [last, "", last]
            params["rest"] = f"{_VALUES[last]}//{_VALUES[last]}"
    return "/" + "/".join(route), "/" + "/".join(request), params


@PROPERTY
@given(
    st.lists(st.tuples(st.sampled_from(_KINDS), st.sampled_from(sorted(_VALUES))), min_size=1, max_size=4),
    st.sampled_from(_ENDINGS),
    st.sampled_from(sorted(_VALUES)),
)
def test_a_route_matches_the_paths_made_from_it(kinds: list[tuple[str, str]], ending: str, last: str) -> None:
    path, request, params = made_from(kinds, ending, last)
    built: Router[str] = Router()
    built.add("GET", parse_route(path), path)
    outcome = built.match("GET", request)
    assert isinstance(outcome, Matched), (path, request, outcome)
    assert (outcome.target, outcome.params) == (path, params)


# Conflicts and declaration order -------------------------------------------------------------------------

# Pieces that claim, overlap and nest in every way the conflict rules and the precedence distinguish;
# each request piece fits several of them ('x.j' fits `{p}`, `x{m}`, `{m}.j`, `{m}.{n}` and `{r*}`).
_PIECES = ("a", "{p}", "{q?}", "{r*}", "x{m}", "x{n?}", "{m}.j", "{m}.{n}", "{s*2}", "")
_REQUEST_PIECES = ("a", "x", "xa", "a.j", "x.j", "", "%FF")
_METHODS = ("GET", "POST")


def routes_of(drawn: list[tuple[str, list[str]]]) -> list[tuple[str, Route]]:
    """Return the (method, route) of each drawn path that parses, once each."""
    routes: dict[tuple[str, str], Route] = {}
    for method, pieces in drawn:
        try:
            routes.setdefault((method, "/" + "/".join(pieces)), parse_route("/" + "/".join(pieces)))
        except RouteSyntaxError:
            continue
    return [(method, route) for (method, _), route in routes.items()]


def conflicts(first: tuple[str, Route], second: tuple[str, Route]) -> bool:
    """Whether `second` is refused by a router holding only `first`."""
    built: Router[str] = Router()
    built.add(first[0], first[1], first[1].path)
    try:
        built.add(second[0], second[1], second[1].path)
    except RouteConflictError:
        return True
    return False


def accepted(routes: list[tuple[str, Route]]) -> tuple[Router[str], list[tuple[str, Route]]]:
    """Return a router of `routes` added in order, and the routes it took."""
    built: Router[str] = Router()
    taken = []
    for method, route in routes:
        try:
            built.add(method, route, route.path)
        except RouteConflictError:
            continue
        taken.append((method, route))
    return built, taken


def route_sets(methods: tuple[str, ...]) -> st.SearchStrategy[list[tuple[str, list[str]]]]:
    paths = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=3)
    return st.lists(st.tuples(st.sampled_from(methods), paths), min_size=2, max_size=10)


_REQUESTS = st.lists(st.lists(st.sampled_from(_REQUEST_PIECES), min_size=1, max_size=3), max_size=8)


@settings(PROPERTY, max_examples=300)
@given(route_sets(("GET",)))
def test_conflicts_are_symmetric_and_do_not_depend_on_declaration_order(
    drawn: list[tuple[str, list[str]]],
) -> None:
    """Whether two routes conflict depends on those two alone: either order, any other routes around.
    So a route is refused exactly when it conflicts with one already taken, in any declaration order."""
    routes = routes_of(drawn)
    clash = {
        (first, second): conflicts(first, second) for first in routes for second in routes if first != second
    }
    for first, second in clash:
        assert clash[first, second] == clash[second, first], (first, second)
    for order in (routes, routes[::-1], sorted(routes, key=lambda item: (item[0], item[1].path))):
        _, taken = accepted(order)
        for route in order:
            refused = route not in taken
            assert refused == any(clash[other, route] for other in taken if other != route), route


@settings(PROPERTY, max_examples=300)
@given(route_sets(_METHODS), _REQUESTS)
def test_matching_does_not_depend_on_declaration_order(
    drawn: list[tuple[str, list[str]]], requests: list[list[str]]
) -> None:
    _, routes = accepted(routes_of(drawn))  # routes that do not conflict, so every order takes them all
    orders = [routes, routes[::-1], sorted(routes, key=lambda item: (item[1].path, item[0]))]
    routers = [accepted(order) for order in orders]
    assert all(len(taken) == len(routes) for _, taken in routers)
    first = routers[0][0]
    for built, _ in routers[1:]:
        assert built.entries() == first.entries()
        for pieces in requests:
            request = "/" + "/".join(pieces)
            for method in (*_METHODS, "HEAD", "OPTIONS"):
                assert built.match(method, request) == first.match(method, request), (routes, method, request)
                assert built.candidates(method, request) == first.candidates(method, request)


def test_made_from_decodes_like_the_router() -> None:
    """The expected params above are what decode_param gives for each request form."""
    assert all(decode_param(raw) == decoded for raw, decoded in _VALUES.items())
    assert made_from([("param", "%61")], "none", "x") == ("/{p0}", "/%61", {"p0": "a"})


@settings(PROPERTY, max_examples=300)
@given(route_sets(("GET",)), _REQUESTS)
@example([("GET", ["{r*}"]), ("GET", ["a", "{p}"])], [["a", "x"]])
def test_entries_are_in_match_order(drawn: list[tuple[str, list[str]]], requests: list[list[str]]) -> None:
    """`routes` lists in match order: of the listed routes that match a request, the first one wins."""
    built, _ = accepted(routes_of(drawn))
    listed = [route for _, route, _, _ in built.entries()]
    for pieces in requests:
        request = "/" + "/".join(pieces)
        matching = {candidate.route for candidate in built.candidates("GET", request)}
        outcome = built.match("GET", request)
        if isinstance(outcome, Matched):
            first = next(route for route in listed if route in matching)
            assert first == outcome.route, (listed, request)
