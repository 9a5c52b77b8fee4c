"""The compiled matcher: the same route and params as the tree walk, for any routes and any request."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from epctl.schemas.routing import RouteTable, parse_route
from epctl.schemas.routing.compiled import (
    MAX_COMPILED_DEPTH,
    MAX_COMPILED_NODES,
    Finder,
    compile_finder,
    walk_finder,
)
from epctl.schemas.routing.tree import Node
from tests.schemas.test_routing_properties import PROPERTY, accepted, route_sets, routes_of

# Request pieces: every kind of route piece fits some, and escapes (good, bad, unreserved) go through
# the decoding branches of both.
_REQUEST_PIECES = ("a", "x", "xa", "a.j", "x.j", "", "%FF", "%61", "x%2Fy", "%C3%A9.j")
_REQUESTS = st.lists(st.lists(st.sampled_from(_REQUEST_PIECES), min_size=1, max_size=4), max_size=8)


def tree_of(table: RouteTable[str], method: str) -> Node[str]:
    return table._tables[method].tree()


def is_compiled(finder: Finder[str]) -> bool:
    return finder.__code__.co_filename == "<epctl routes GET>"


def same_finding(root: Node[str], method: str, request: str) -> None:
    segments = request.split("/")
    walked = walk_finder(root)(request, segments)
    finder = compile_finder(root, method)
    assert finder is not None
    compiled = finder(request, segments)
    if walked is None or compiled is None:
        assert walked is compiled, request
        return
    assert compiled[0] is walked[0], request  # the same leaf: the same route, shortened or not
    assert compiled[1] == walked[1], request


@settings(PROPERTY, max_examples=400)
@given(route_sets(("GET",)), _REQUESTS)
def test_the_compiled_matcher_finds_what_the_walk_finds(
    drawn: list[tuple[str, list[str]]], requests: list[list[str]]
) -> None:
    built, taken = accepted(routes_of(drawn))
    if not taken:
        return  # no drawn path is a valid route
    root = tree_of(built._enabled, "GET")
    for pieces in requests:
        same_finding(root, "GET", "/" + "/".join(pieces))


def test_literal_text_never_becomes_code() -> None:
    """Route literals may hold quotes and parentheses: they are looked up, never written into the code."""
    route = "/a'+exit(3)+'/{p}"  # written into code, it would end the test run
    table: RouteTable[str] = RouteTable()
    table.add("GET", parse_route(route), route)
    table.add("GET", parse_route("/b/{p}"), "b")
    table.prepare()
    assert is_compiled(table._tables["GET"].find)
    match = table.match("GET", "/a'+exit(3)+'/1")
    assert (match.status, match.target, match.params) == (200, route, {"p": "1"})


def test_deep_routes_nest_through_functions() -> None:
    """Params nested deeper than the interpreter's block limit allows are split into functions."""
    names = [f"p{index}" for index in range(40)]
    table: RouteTable[str] = RouteTable()
    table.add("GET", parse_route("/" + "/".join(f"{{{name}}}" for name in names)), "deep")
    table.add("GET", parse_route("/" + "/".join(f"m{{{name}}}" for name in names)), "mixed")
    table.prepare()
    assert is_compiled(table._tables["GET"].find)
    match = table.match("GET", "/" + "/".join(str(index) for index in range(40)))
    assert (match.target, list(match.params.values())) == ("deep", [str(index) for index in range(40)])
    match = table.match("GET", "/" + "/".join(f"m{index}" for index in range(40)))
    assert (match.target, match.params["p39"]) == ("mixed", "39")


def test_trees_over_the_limits_are_walked_with_the_same_answers() -> None:
    wide: RouteTable[str] = RouteTable()
    for index in range(MAX_COMPILED_NODES):
        wide.add("GET", parse_route(f"/r{index}/{{id}}"), f"r{index}")
    deep: RouteTable[str] = RouteTable()
    deep.add("GET", parse_route("/x" * (MAX_COMPILED_DEPTH + 1) + "/{id}"), "deep")
    for table, request, target in (
        (wide, f"/r{MAX_COMPILED_NODES - 1}/7", f"r{MAX_COMPILED_NODES - 1}"),
        (deep, "/x" * (MAX_COMPILED_DEPTH + 1) + "/7", "deep"),
    ):
        table.prepare()
        assert compile_finder(tree_of(table, "GET"), "GET") is None
        assert table._tables["GET"].find is table._tables["GET"].walk
        match = table.match("GET", request)
        assert (match.status, match.target, match.params) == (200, target, {"id": "7"})


def test_a_prepared_router_answers_from_its_compiled_matcher() -> None:
    table: RouteTable[str] = RouteTable()
    table.add("GET", parse_route("/devices/{id}"), "device")
    assert table.match("GET", "/devices/7").params == {"id": "7"}
    assert not is_compiled(table._tables["GET"].find)  # a command matching a path or two walks
    table.prepare()
    assert is_compiled(table._tables["GET"].find)
    assert table.match("GET", "/devices/%34%32").params == {"id": "42"}
    assert table.match("GET", "/devices/%FF").status == 400  # not valid UTF-8: no other route is tried
    table.add("GET", parse_route("/devices/{id}/logs"), "logs")  # added after: walked until prepared again
    assert not is_compiled(table._tables["GET"].find)
    assert table.match("GET", "/devices/7/logs").target == "logs"
