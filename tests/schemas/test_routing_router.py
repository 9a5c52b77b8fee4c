"""Router: the one entry callers use, and the outcome value each request gets from it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import get_args

import pytest

import epctl.schemas.routing as routing
from epctl.schemas.routing import (
    METHODS,
    BadEncoding,
    Disabled,
    Matched,
    Method,
    MethodNotAllowed,
    NotFound,
    Outcome,
    Preflight,
    RouteConflictError,
    Router,
    lookup_method,
    parse_route,
)


def router(
    *routes: tuple[str, str], disabled: tuple[tuple[str, str], ...] = (), cors: bool = True
) -> Router[str]:
    """Return a router of (method, path) routes, each target being 'METHOD path'."""
    built: Router[str] = Router(cors=cors)
    for method, path in routes:
        built.add(method, parse_route(path), f"{method} {path}")
    for method, path in disabled:
        built.add(method, parse_route(path), f"{method} {path} (disabled)", enabled=False)
    return built


def items_router(cors: bool = True) -> Router[str]:
    return router(("GET", "/items/{id}"), ("DELETE", "/items/{id}"), ("POST", "/items"), cors=cors)


# Methods -----------------------------------------------------------------------------------------------


def test_methods_are_the_literal_type_s_values() -> None:
    assert METHODS == get_args(Method) == ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@pytest.mark.parametrize(
    ("method", "looked_up"),
    [("GET", "GET"), ("get", "GET"), ("HEAD", "GET"), ("head", "GET"), ("Post", "POST"), ("TRACE", "TRACE")],
)
def test_lookup_method(method: str, looked_up: str) -> None:
    assert lookup_method(method) == looked_up


# Outcomes ----------------------------------------------------------------------------------------------


def test_matched() -> None:
    outcome = items_router().match("GET", "/items/%34%32?x=1")
    assert outcome == Matched("GET /items/{id}", parse_route("/items/{id}"), {"id": "42"}, "/items/42")
    assert (outcome.status, outcome.reason) == (200, "the best of the routes for this path")


def test_head_is_served_by_get_routes() -> None:
    outcome = items_router().match("HEAD", "/items/7")
    assert outcome == Matched("GET /items/{id}", parse_route("/items/{id}"), {"id": "7"}, "/items/7")


def test_request_methods_are_upper_cased() -> None:
    assert isinstance(items_router().match("delete", "/items/7"), Matched)


def test_not_found() -> None:
    outcome = items_router().match("GET", "/nothing/../else")
    assert outcome == NotFound("/else")
    assert (outcome.status, outcome.reason) == (404, "no route of any method matches this path")


def test_method_not_allowed_lists_the_routed_methods() -> None:
    outcome = items_router().match("PUT", "/items/7")
    assert outcome == MethodNotAllowed(("DELETE", "GET"), "/items/7")
    assert outcome.status == 405
    assert outcome.reason == "only DELETE, GET routes match this path"
    assert outcome.allow_header == "DELETE, GET, HEAD, OPTIONS"


def test_allow_header_has_head_only_when_get_is_routed() -> None:
    outcome = items_router().match("GET", "/items")
    assert outcome == MethodNotAllowed(("POST",), "/items")
    assert isinstance(outcome, MethodNotAllowed)
    assert outcome.allow_header == "OPTIONS, POST"


def test_allow_header_lists_options_only_when_it_is_answered() -> None:
    outcome = items_router(cors=False).match("OPTIONS", "/items")
    assert isinstance(outcome, MethodNotAllowed)
    assert (outcome.allow_header, outcome.allow_methods) == ("POST", ("POST",))
    with_route = router(("OPTIONS", "/items"), ("POST", "/items"), cors=False).match("GET", "/items")
    assert isinstance(with_route, MethodNotAllowed)
    assert with_route.allow_header == "OPTIONS, POST"


def test_head_without_a_get_route_is_405() -> None:
    assert items_router().match("HEAD", "/items") == MethodNotAllowed(("POST",), "/items")


def test_bad_encoding() -> None:
    outcome = items_router().match("GET", "/items/%FF")
    assert outcome == BadEncoding(parse_route("/items/{id}"), "/items/%FF")
    assert outcome.status == 400
    assert outcome.reason == "a route matched but a parameter is not valid percent-encoded UTF-8"


def test_preflight_when_cors_is_on_and_no_options_route() -> None:
    outcome = items_router().match("OPTIONS", "/items/7")
    assert outcome == Preflight(("DELETE", "GET"), "/items/7")
    assert isinstance(outcome, Preflight)
    assert (outcome.status, outcome.reason) == (204, "CORS preflight: no OPTIONS route for this path")
    assert outcome.allow_header == "DELETE, GET, HEAD, OPTIONS"


def test_options_is_405_when_cors_is_off() -> None:
    outcome = items_router(cors=False).match("options", "/items/7")
    assert outcome == MethodNotAllowed(("DELETE", "GET"), "/items/7", preflight=False)


def test_an_options_route_beats_the_preflight() -> None:
    built = router(("GET", "/a"), ("OPTIONS", "/a"))
    assert built.match("OPTIONS", "/a") == Matched("OPTIONS /a", parse_route("/a"), {}, "/a")


def test_options_on_an_unrouted_path_is_not_found() -> None:
    assert items_router().match("OPTIONS", "/nothing") == NotFound("/nothing")


def test_disabled_turns_404_into_503() -> None:
    built = router(("GET", "/a/{x}"), disabled=(("GET", "/b/{y}"),))
    outcome = built.match("GET", "/b/1")
    assert outcome == Disabled("GET /b/{y} (disabled)", "/b/1")
    assert (outcome.status, outcome.reason) == (503, "only a disabled endpoint matches this path")


def test_an_enabled_route_beats_a_disabled_one() -> None:
    """A disabled endpoint is not in the router: the enabled wildcard serves what it would have."""
    built = router(("GET", "/{rest*}"), disabled=(("GET", "/b/{y}"),))
    assert built.match("GET", "/b/1") == Matched(
        "GET /{rest*}", parse_route("/{rest*}"), {"rest": "b/1"}, "/b/1"
    )


def test_enabled_routes_of_other_methods_come_before_a_disabled_route() -> None:
    built = router(("POST", "/b/{y}"), disabled=(("GET", "/b/{y}"),))
    assert built.match("GET", "/b/1") == MethodNotAllowed(("POST",), "/b/1")


def test_a_disabled_route_of_another_method_is_not_found() -> None:
    built = router(disabled=(("POST", "/b"),))
    assert built.match("GET", "/b") == NotFound("/b")


def test_statuses() -> None:
    assert [
        kind.status for kind in (Matched, NotFound, Disabled, MethodNotAllowed, BadEncoding, Preflight)
    ] == [
        200,
        404,
        503,
        405,
        400,
        204,
    ]


def describe(outcome: Outcome[str]) -> str:
    """Dispatch the way callers do: a match statement on the outcome classes."""
    match outcome:
        case Matched(target, _, params, _):
            return f"{target} {params}"
        case BadEncoding(route):
            return f"400 {route.path}"
        case Preflight(allowed) | MethodNotAllowed(allowed):
            return f"{outcome.status} {allowed}"
        case Disabled(target):
            return f"503 {target}"
        case NotFound(path):
            return f"404 {path}"


@pytest.mark.parametrize(
    ("method", "path", "described"),
    [
        ("GET", "/items/1", "GET /items/{id} {'id': '1'}"),
        ("GET", "/items/%zz", "400 /items/{id}"),
        ("OPTIONS", "/items", "204 ('POST',)"),
        ("PATCH", "/items", "405 ('POST',)"),
        ("GET", "/old", "503 GET /old (disabled)"),
        ("GET", "/new", "404 /new"),
    ],
)
def test_outcomes_dispatch_with_match_statements(method: str, path: str, described: str) -> None:
    built = items_router()
    built.add("GET", parse_route("/old"), "GET /old (disabled)", enabled=False)
    assert describe(built.match(method, path)) == described


# add ---------------------------------------------------------------------------------------------------


def test_enabled_conflict_raises_and_leaves_the_router_unchanged() -> None:
    built = router(("GET", "/a/{x}"))
    with pytest.raises(RouteConflictError) as caught:
        built.add("GET", parse_route("/a/{y}"), "GET /a/{y}")
    assert str(caught.value) == "New route /a/{y} conflicts with existing /a/{x}"
    assert caught.value.existing == "GET /a/{x}"
    assert len(built) == 1
    assert built.match("GET", "/a/1") == Matched("GET /a/{x}", parse_route("/a/{x}"), {"x": "1"}, "/a/1")


def test_disabled_conflict_is_ignored_and_the_first_disabled_route_stays() -> None:
    built = router(disabled=(("GET", "/a/{x}"), ("GET", "/a/{y}")))
    assert len(built) == 1
    assert built.match("GET", "/a/1") == Disabled("GET /a/{x} (disabled)", "/a/1")


def test_enabled_and_disabled_routes_never_conflict() -> None:
    built = router(("GET", "/a/{x}"), disabled=(("GET", "/a/{y}"),))
    assert len(built) == 2


@pytest.mark.parametrize("method", ["HEAD", "get", "TRACE", ""])
@pytest.mark.parametrize("enabled", [True, False])
def test_unknown_method_is_refused(method: str, enabled: bool) -> None:
    with pytest.raises(ValueError) as caught:
        Router[str]().add(method, parse_route("/a"), "x", enabled=enabled)
    assert (
        str(caught.value)
        == f"Unknown method {method!r}: expected one of DELETE, GET, OPTIONS, PATCH, POST, PUT"
    )


def test_prepared_router_matches_and_still_takes_routes() -> None:
    built = items_router()
    built.prepare()
    assert isinstance(built.match("GET", "/items/1"), Matched)
    built.add("GET", parse_route("/items/new"), "GET /items/new")
    assert built.match("GET", "/items/new") == Matched(
        "GET /items/new", parse_route("/items/new"), {}, "/items/new"
    )


# explain, candidates, entries --------------------------------------------------------------------------


def test_explain_names_each_loser_and_why() -> None:
    built = router(("GET", "/{p*}"), ("GET", "/devices/{id}"), ("GET", "/devices/x"), ("POST", "/devices/x"))
    assert built.explain("head", "/devices/x") == [
        ("GET /devices/{id}", "segment 2 ('x'): literal 'x' beats param {id}"),
        ("GET /{p*}", "segment 1 ('devices'): literal 'devices' beats wildcard {p*}"),
    ]


def test_explain_is_empty_for_a_single_candidate_or_none() -> None:
    built = router(("GET", "/a"), disabled=(("GET", "/{p}"),))
    assert built.explain("GET", "/a") == []
    assert built.explain("GET", "/b") == []


def test_candidates_are_enabled_routes_best_first() -> None:
    built = router(("GET", "/{p*}"), ("GET", "/a/{b}"), disabled=(("GET", "/a/b"),))
    assert [(c.target, c.params) for c in built.candidates("GET", "/a/b")] == [
        ("GET /a/{b}", {"b": "b"}),
        ("GET /{p*}", {"p": "a/b"}),
    ]


def test_entries_list_enabled_routes_in_match_order_then_disabled_ones() -> None:
    built = router(
        ("GET", "/{p*}"),
        ("POST", "/a"),
        ("GET", "/a"),
        disabled=(("GET", "/z/{q}"), ("GET", "/b")),
    )
    assert [(method, route.path, target, enabled) for method, route, target, enabled in built.entries()] == [
        ("GET", "/a", "GET /a", True),
        ("POST", "/a", "POST /a", True),
        ("GET", "/{p*}", "GET /{p*}", True),
        ("GET", "/b", "GET /b (disabled)", False),
        ("GET", "/z/{q}", "GET /z/{q} (disabled)", False),
    ]


def test_len_counts_enabled_and_disabled_routes() -> None:
    assert len(router(("GET", "/a/{b?}"), ("POST", "/a"), disabled=(("GET", "/c"),))) == 3


# The package -------------------------------------------------------------------------------------------


def test_package_imports_only_the_standard_library_and_itself() -> None:
    """Pure: no IO libraries, no werkzeug, nothing from the rest of epctl."""
    folder = Path(routing.__file__).parent
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                inside = name.startswith("epctl.schemas.routing")
                assert inside or name.split(".")[0] in sys.stdlib_module_names, f"{path.name} imports {name}"


def test_package_keeps_the_names_of_the_single_module_it_replaced() -> None:
    before = {
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
    }
    assert before <= set(routing.__all__)
    assert all(hasattr(routing, name) for name in routing.__all__)
