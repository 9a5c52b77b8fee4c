"""Route syntax, conflicts and matching: every rule and example of the routing rules (README, "Routes")."""

from __future__ import annotations

import random
import threading

import pytest

from epctl.schemas.routing import (
    Candidate,
    RouteConflictError,
    RouteSyntaxError,
    RouteTable,
    decode_param,
    explain_precedence,
    normalize_path,
    parse_route,
)


def build(*paths: str, method: str = "GET") -> RouteTable[str]:
    """Return a table of `paths` for `method`, each route's target being its path."""
    table: RouteTable[str] = RouteTable()
    for path in paths:
        table.add(method, parse_route(path), path)
    return table


def winner(paths: tuple[str, ...] | list[str], request: str, method: str = "GET") -> str | None:
    """Return the path of the route that `request` reaches, or None."""
    return build(*paths).match(method, request).target


def conflict(first: str, second: str) -> RouteConflictError[str]:
    """Add `first` then `second` (GET) and return the conflict the second raises."""
    table = build(first)
    with pytest.raises(RouteConflictError) as caught:
        table.add("GET", parse_route(second), second)
    return caught.value


# (a) Route path syntax -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/a",
        "/a/",
        "/a/b/c",
        "/a/{b}/",
        "/{a*2}/",
        "/test/{p*2}/end",
        "/{p*1}",
        "/{p*10}",
        "/a/{b?}",
        "/{p?}",
        "/a/{b*}",
        "/{p*}",
        "/{name}.{ext}",
        "/{filename}.{ext}",
        "/files/{filename}.{ext}",
        "/v{n}",
        "/a{b?}c{d}",
        "/{a}.{b?}",
        "/y{p?}/b",
        "/{a}.x.{b}",
        "/a-b.c_d~e!f$g&h'i(j)k*l+m,n;o=p:q@r",
        "/%2F",
        "/%20",
        "/%25",
        "/%C3%A9",
        "/%FF",
        "/a%2Fb/{c}",
        "/{0abc}",
        "/{_}",
        "/{a}/{A}",
        "/.",
        "/..",
        "/a/../b",
        "/{constructor}",
        "/{__proto__}/{toString}",
    ],
)
def test_valid_path(path: str) -> None:
    assert parse_route(path).path == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "a",
        "a/b",
        "//",
        "/a//b",
        "/a/{b}//",
        "//a",
        "/a b",
        "/a?",
        "/a#",
        '/a"',
        "/<",
        "/>",
        "/a\\b",
        "/^",
        "/`",
        "/|",
        "/[",
        "/]",
        "/{",
        "/}",
        "/a{",
        "/a}b",
        "/café",
        "/%2f",
        "/%c3%a9",
        "/%",
        "/%2",
        "/%zz",
        "/a%",
        "/{nom_é}",
        "/{a-b}",
        "/{}",
        "/{ a}",
        "/a/{b?}/c",
        "/{a?}/",
        "/a/{b*}/c",
        "/{a*}/",
        "/{p*0}",
        "/{p*01}",
        "/{p*-1}",
        "/{p**}",
        "/{p?*}",
        "/{a}{b}",
        "/x{a}{b}y",
        "/a{b*}",
        "/a{b*2}",
        "/{a}{b?}",
        "/a\n",
        "/a/\n",
    ],
)
def test_invalid_path(path: str) -> None:
    with pytest.raises(RouteSyntaxError) as caught:
        parse_route(path)
    assert str(caught.value) == f"Invalid path: {path}"


def test_syntax_error_is_a_value_error_carrying_the_path() -> None:
    with pytest.raises(ValueError) as caught:
        parse_route("/a b")
    assert isinstance(caught.value, RouteSyntaxError)
    assert caught.value.path == "/a b"


@pytest.mark.parametrize("path", ["/%41", "/%7E", "/%2E", "/a%61", "/x/%5F/{p}", "/%21", "/%3A", "/%40"])
def test_encoded_unreserved_character(path: str) -> None:
    with pytest.raises(RouteSyntaxError) as caught:
        parse_route(path)
    assert str(caught.value) == f"Path cannot contain encoded non-reserved path characters: {path}"


def test_grammar_is_checked_before_encoded_characters() -> None:
    with pytest.raises(RouteSyntaxError, match=r"^Invalid path: /%41 b$"):
        parse_route("/%41 b")


def test_encoded_check_does_not_carry_state_between_paths() -> None:
    """hapi bug 4: its global regex resumes mid-string after a rejection; each path is checked whole."""
    for path in ["/%41", "/x/%41", "/%41", "/yy/%41"]:
        with pytest.raises(RouteSyntaxError, match="encoded non-reserved"):
            parse_route(path)
    assert parse_route("/%2F").path == "/%2F"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/{a}/{a}", "a"),
        ("/{a}.{a}", "a"),
        ("/{a}/x{a?}", "a"),
        ("/{a}/{a*}", "a"),
        ("/{a*2}/{a}", "a"),
        ("/{x}/{y}/{y}/{x}", "y"),
        ("/{b}/{a}/{b}/{a}", "b"),
    ],
)
def test_repeated_param_name(path: str, name: str) -> None:
    with pytest.raises(RouteSyntaxError) as caught:
        parse_route(path)
    assert str(caught.value) == f"Cannot repeat the same parameter name: {name} in: {path}"


def test_invalid_path_is_reported_before_a_repeated_name() -> None:
    with pytest.raises(RouteSyntaxError, match=r"^Invalid path: "):
        parse_route("/{a}/{a}/b c")


def test_encoded_character_is_reported_before_a_repeated_name() -> None:
    with pytest.raises(RouteSyntaxError, match=r"^Path cannot contain encoded"):
        parse_route("/{a}/{a}/%41")


def test_param_names_are_case_sensitive() -> None:
    assert parse_route("/{a}/{A}").params == ("a", "A")


@pytest.mark.parametrize(
    ("path", "fingerprint"),
    [
        ("/", "/"),
        ("/a", "/a"),
        ("/a/", "/a/"),
        ("/test/{p*2}/end", "/test/?/?/end"),
        ("/a/{p*}", "/a/#"),
        ("/{p*}", "/#"),
        ("/{name}.json", "/?.json"),
        ("/files/{name}.{ext}", "/files/?.?"),
        ("/a/{b?}", "/a/?"),
        ("/{p?}", "/?"),
        ("/v{n}/x", "/v?/x"),
        ("/a{b?}c{d}", "/a?c?"),
        ("/a/{b}/", "/a/?/"),
        ("/%2F/{x}", "/%2F/?"),
    ],
)
def test_fingerprint(path: str, fingerprint: str) -> None:
    assert parse_route(path).fingerprint == fingerprint


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/", ()),
        ("/devices/{id}/{attr?}", ("id", "attr")),
        ("/test/{p*2}/{q}", ("p", "q")),
        ("/{name}.{ext}/{rest*}", ("name", "ext", "rest")),
    ],
)
def test_params_in_order(path: str, params: tuple[str, ...]) -> None:
    assert parse_route(path).params == params


@pytest.mark.parametrize(
    ("path", "suffix"),
    [
        ("/", "/"),
        ("/a/b/", "/a/b/"),
        ("/x/{p}/end", "/end"),
        ("/x/{p}", ""),
        ("/{p*2}/z/", "/z/"),
        ("/a{b}/c", "/c"),
    ],
)
def test_literal_suffix(path: str, suffix: str) -> None:
    assert parse_route(path).literal_suffix == suffix


def test_route_repr() -> None:
    assert repr(parse_route("/devices/{id}/{attr?}")) == "<Route /devices/{id}/{attr?}>"


def test_routes_with_the_same_path_are_equal() -> None:
    assert parse_route("/a/{b}") == parse_route("/a/{b}")
    assert hash(parse_route("/a/{b}")) == hash(parse_route("/a/{b}"))
    assert parse_route("/a/{b}") != parse_route("/a/{c}")


@pytest.mark.parametrize(
    ("path", "claims"),
    [
        ("/a/{b?}", ("/a/?", "/a")),
        ("/{p?}", ("/?", "/")),
        ("/a/{b}", ("/a/?",)),
        ("/a{b?}", ("/a?",)),
    ],
)
def test_claims(path: str, claims: tuple[str, ...]) -> None:
    assert parse_route(path).claims == claims


# (b) Conflicts ---------------------------------------------------------------------------------------

CONFLICTS = [
    ("/{deviceId}", "/{userId}"),
    ("/test/{p1}/{p2}/end", "/test/{p*2}/end"),
    ("/a/{b?}", "/a"),
    ("/a/{b?}", "/a/{c}"),
    ("/{x}/{y?}", "/{z}"),
    ("/{p?}", "/"),
    ("/a/{b}/{c?}", "/a/{e}/{f}"),
    ("/a{p}", "/a{q?}"),
    ("/{name}.{ext}", "/{a}.{b?}"),
    ("/a/{p*}", "/a/{p}/{q*}"),
    ("/{c*}", "/{a}/{b*}"),
    ("/{d}/{e*}", "/{a}/{b}/{c*}"),
    ("/a/{p*}", "/a/{q*}"),
    ("/a/{p*1}/{q*}", "/a/{r*}"),
    ("/a", "/a"),
    ("/a/", "/a/"),
]


@pytest.mark.parametrize(("first", "second"), CONFLICTS)
def test_conflict(first: str, second: str) -> None:
    err = conflict(first, second)
    assert str(err) == f"New route {second} conflicts with existing {first}"
    assert err.existing == first


@pytest.mark.parametrize(("first", "second"), CONFLICTS)
def test_conflict_either_order(first: str, second: str) -> None:
    err = conflict(second, first)
    assert str(err) == f"New route {first} conflicts with existing {second}"
    assert err.existing == second


NON_CONFLICTS = [
    ("/a/{b?}", "/a/"),
    ("/a/{b?}", "/a/b"),
    ("/a/{b?}", "/a/{c*}"),
    ("/{a}/{b?}", "/{c}/{d*}"),
    ("/{p*}", "/"),
    ("/a", "/a/"),
    ("/a/{b}", "/a/{b}/{c}"),
    ("/a/{p*}", "/a/{p}/{q}/{r*}"),
    ("/m/{r*}", "/m/x{p}/{q*}"),
    ("/a{p}/x", "/a{q?}/y"),
    ("/{a}.{b}", "/{a}.json"),
    ("/a", "/A"),
    ("/a/{b}", "/a/b"),
    ("/{p}", "/{p*}"),
]


@pytest.mark.parametrize(("first", "second"), NON_CONFLICTS)
def test_no_conflict(first: str, second: str) -> None:
    table = build(first, second)
    assert len(table) == 2
    table = build(second, first)
    assert len(table) == 2


def test_different_methods_never_conflict() -> None:
    table: RouteTable[str] = RouteTable()
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]:
        table.add(method, parse_route("/a/{b}"), method)
    assert len(table) == 6


def test_invalid_path_is_reported_before_any_conflict() -> None:
    """/a/{b?}/ would claim /a/?/ like /a/{c}/, but it is invalid: parsing fails before any conflict check."""
    build("/a/{c}/")
    with pytest.raises(RouteSyntaxError, match=r"^Invalid path: /a/\{b\?\}/$"):
        parse_route("/a/{b?}/")


def test_conflict_error_carries_both_sides() -> None:
    err = conflict("/a/{id}", "/a/{name}")
    assert err.existing == "/a/{id}"
    assert err.existing_route == parse_route("/a/{id}")
    assert err.route == parse_route("/a/{name}")
    assert err.method == "GET"


def test_optional_route_names_its_full_slot_before_its_shortened_claim() -> None:
    table = build("/a", "/a/{c}")
    with pytest.raises(RouteConflictError, match=r"^New route /a/\{b\?\} conflicts with existing /a/\{c\}$"):
        table.add("GET", parse_route("/a/{b?}"), "new")


def test_optional_route_names_the_route_that_holds_its_shortened_claim() -> None:
    table = build("/a", "/a/{c}/d")
    with pytest.raises(RouteConflictError, match=r"^New route /a/\{b\?\} conflicts with existing /a$"):
        table.add("GET", parse_route("/a/{b?}"), "new")


def test_wildcard_rule_names_the_wildcard_one_level_up() -> None:
    err = conflict("/a/{p*}", "/a/{x}/{y*}")
    assert err.existing == "/a/{p*}"


def test_new_wildcard_names_the_param_wildcard_below() -> None:
    err = conflict("/a/{x}/{y*}", "/a/{p*}")
    assert err.existing == "/a/{x}/{y*}"


def test_wildcard_rule_needs_a_whole_segment_param() -> None:
    assert len(build("/m/{r*}", "/m/x{p}/{q*}", "/m/{a}.{b}/{c*}")) == 3


def test_rejected_route_counts_as_never_declared() -> None:
    table = build("/a")
    with pytest.raises(RouteConflictError):
        table.add("GET", parse_route("/a/{b?}"), "rejected")
    assert len(table) == 1
    table.add("GET", parse_route("/a/{c}"), "/a/{c}")
    assert table.match("GET", "/a/x").target == "/a/{c}"
    assert [route.path for _, route, _ in table.entries()] == ["/a", "/a/{c}"]


def test_rejected_wildcard_leaves_no_trace() -> None:
    table = build("/a/{x}/{y*}")
    with pytest.raises(RouteConflictError):
        table.add("GET", parse_route("/a/{p*}"), "rejected")
    assert table.match("GET", "/a").status == 404


@pytest.mark.parametrize("method", ["HEAD", "get", "TRACE", ""])
def test_unknown_method_is_refused(method: str) -> None:
    with pytest.raises(ValueError, match="Unknown method"):
        RouteTable[str]().add(method, parse_route("/a"), "x")


# (c) Matching: normalization -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("/users/%64anny", "/users/danny"),
        ("/a/%2e", "/a/"),
        ("/a/%2E%2E/b", "/b"),
        ("/a/../b", "/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/a/./b", "/a/b"),
        ("/..", "/"),
        ("/../a", "/a"),
        ("/a/b/../../..", "/"),
        ("/a/.b/..c", "/a/.b/..c"),
        ("/a%2fb", "/a%2Fb"),
        ("/%c3%a9", "/%C3%A9"),
        ("/%7e%41", "/~A"),
        ("/%25", "/%25"),
        ("/%2541", "/%2541"),
        ("/%zz", "/%zz"),
        ("/a?b=1", "/a"),
        ("/a?b=/../c", "/a"),
        ("/a#frag", "/a"),
        ("/a#x?y", "/a"),
        ("/a/", "/a/"),
        ("/A", "/A"),
        ("/a//b", "/a//b"),
        ("", "/"),
    ],
)
def test_normalize_path(raw: str, normalized: str) -> None:
    assert normalize_path(raw) == normalized


def test_encoded_unreserved_request_matches_the_literal() -> None:
    assert winner(["/users/danny"], "/users/%64anny") == "/users/danny"


def test_match_reports_the_normalized_path() -> None:
    assert build("/b").match("GET", "/a/../b?x=1").path == "/b"


def test_dot_segments_are_resolved_before_matching() -> None:
    assert winner(["/b", "/a/{x}"], "/a/../b") == "/b"
    assert winner(["/a/"], "/a/b/..") == "/a/"
    assert winner(["/"], "/..") == "/"


def test_encoded_dots_are_resolved_too() -> None:
    assert winner(["/b"], "/a/%2e%2E/b") == "/b"


def test_dot_literal_routes_never_match() -> None:
    table = build("/a/..", "/a/.")
    assert table.match("GET", "/a/..").status == 404
    assert table.match("GET", "/a/.").status == 404


def test_query_is_cut() -> None:
    match = build("/a/{b}").match("GET", "/a/x?y=/z&b=2")
    assert (match.status, match.params) == (200, {"b": "x"})


def test_no_trailing_slash_stripping() -> None:
    assert build("/a").match("GET", "/a/").status == 404
    assert build("/a/").match("GET", "/a").status == 404
    assert build("/users/{name}").match("GET", "/users/danny/").status == 404


def test_no_case_folding() -> None:
    assert build("/users").match("GET", "/Users").status == 404
    assert winner(["/Users", "/users"], "/Users") == "/Users"


@pytest.mark.parametrize(
    ("route", "request_path", "status"),
    [
        ("/a%20b", "/a%20b", 200),
        ("/a%20b", "/a b", 404),
        ("/a%2Fb", "/a/b", 404),
        ("/a%2Fb", "/a%2fb", 200),
        ("/a%2Fb", "/a%2Fb", 200),
        ("/caf%C3%A9", "/caf%c3%a9", 200),
        ("/caf%C3%A9", "/café", 404),
    ],
)
def test_literals_are_byte_exact(route: str, request_path: str, status: int) -> None:
    assert build(route).match("GET", request_path).status == status


def test_request_not_starting_with_a_slash_matches_nothing() -> None:
    assert build("/{p*}").match("GET", "*").status == 404


# (c) Matching: precedence ----------------------------------------------------------------------------


def test_literal_beats_param() -> None:
    assert winner(["/devices/{id}", "/devices/x"], "/devices/x") == "/devices/x"


def test_param_beats_wildcard() -> None:
    assert winner(["/{p*}", "/a/{id}"], "/a/x") == "/a/{id}"


def test_mixed_beats_param() -> None:
    assert winner(["/f/{p}", "/f/{a}.{b}"], "/f/x.y") == "/f/{a}.{b}"


def test_literal_beats_mixed() -> None:
    assert winner(["/f/{a}.{b}", "/f/x.y"], "/f/x.y") == "/f/x.y"


def test_precedence_is_decided_at_the_first_differing_position() -> None:
    """Not by counting literals: /a/{x}/{y} has fewer literals than /{p}/b/c but wins at segment 1."""
    assert winner(["/{p}/b/c", "/a/{x}/{y}"], "/a/b/c") == "/a/{x}/{y}"


def test_failing_specific_branch_falls_back() -> None:
    assert winner(["/a/{x}/d", "/{p}/c/e"], "/a/c/e") == "/{p}/c/e"
    assert winner(["/a/{x}/d", "/{p}/c/e"], "/a/c/d") == "/a/{x}/d"


def test_route_ending_with_the_request_beats_an_absent_wildcard() -> None:
    assert winner(["/a/{p*}", "/a"], "/a") == "/a"
    assert winner(["/a/{b}/{p*}", "/a/{c}"], "/a/x") == "/a/{c}"


def test_absent_wildcard_after_a_param() -> None:
    match = build("/a/{b}/{c*}").match("GET", "/a/x")
    assert (match.status, match.params) == (200, {"b": "x"})


def test_longer_route_competes_only_through_optional_and_wildcard() -> None:
    assert build("/a/{b}/c").match("GET", "/a/x").status == 404
    assert build("/a/{b}").match("GET", "/a/x/c").status == 404


@pytest.mark.parametrize(
    ("routes", "request_path", "expected", "params"),
    [
        (
            ["/files/{name}.json", "/files/{name}.{ext}"],
            "/files/a.json",
            "/files/{name}.{ext}",
            {"ext": "json"},
        ),
        (["/files/{name}.{ext}"], "/files/a.b.json", "/files/{name}.{ext}", {"name": "a.b", "ext": "json"}),
        (["/{a}.{b}"], "/a.b.c", "/{a}.{b}", {"a": "a.b", "b": "c"}),
        (["/{p}.json", "/x{p}"], "/x.json", "/x{p}", {"p": ".json"}),
        (["/x{p}", "/{p}x"], "/xax", "/x{p}", {"p": "ax"}),
        (["/a{p}", "/ab{p}"], "/abc", "/ab{p}", {"p": "c"}),
        (["/{p}ba{q}", "/{p}ab{q}"], "/xabay", "/{p}ab{q}", {"p": "x", "q": "ay"}),
        (["/{p}.b", "/{p}.a"], "/x.a", "/{p}.a", {"p": "x"}),
        (["/v{n}"], "/v2", "/v{n}", {"n": "2"}),
        (["/a{b?}c{d}"], "/acx", "/a{b?}c{d}", {"b": "", "d": "x"}),
        (["/{a}.{b?}"], "/x.", "/{a}.{b?}", {"a": "x", "b": ""}),
    ],
)
def test_mixed_segments(routes: list[str], request_path: str, expected: str, params: dict[str, str]) -> None:
    match = build(*routes).match("GET", request_path)
    assert match.target == expected
    assert params.items() <= match.params.items()


def test_mixed_order_more_parts_first() -> None:
    match = build("/files/{name}.json", "/files/{name}.{ext}").match("GET", "/files/a.json")
    assert match.params == {"name": "a", "ext": "json"}


def test_mixed_order_does_not_depend_on_declaration() -> None:
    routes = ["/{a}.json", "/{a}.{b}", "/x{a}", "/{a}x", "/ab{a}", "/a{b}", "/b{a}", "/{a}.x.{b}"]
    for request in ["/a.json", "/x.json", "/abx", "/bx", "/q.x.y", "/ax"]:
        results = {winner(order, request) for order in (routes, routes[::-1], sorted(routes))}
        assert len(results) == 1, request


def test_mixed_required_param_never_matches_empty() -> None:
    assert build("/a{p}").match("GET", "/a").status == 404


def test_mixed_optional_param_is_always_present() -> None:
    match = build("/a{p?}").match("GET", "/a")
    assert (match.status, match.params) == (200, {"p": ""})


def test_mixed_optional_in_a_middle_segment() -> None:
    assert build("/y{p?}/b").match("GET", "/y/b").params == {"p": ""}


# (c) Matching: optional and wildcard params ----------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "request_path", "params"),
    [
        ("/a/{b?}", "/a", {}),
        ("/a/{b?}", "/a/", {"b": ""}),
        ("/a/{b?}", "/a/x", {"b": "x"}),
        ("/{p?}", "/", {}),
        ("/{p?}", "/x", {"p": "x"}),
        ("/a/{p*}", "/a", {}),
        ("/a/{p*}", "/a/", {"p": ""}),
        ("/a/{p*}", "/a/x", {"p": "x"}),
        ("/a/{p*}", "/a/x/y/", {"p": "x/y/"}),
        ("/a/{p*}", "/a//b", {"p": "/b"}),
        ("/{p*}", "/", {"p": ""}),
        ("/{p*}", "//", {"p": "/"}),
        ("/{p*}", "/x//c", {"p": "x//c"}),
        ("/a/{p*2}", "/a/x/y", {"p": "x/y"}),
        ("/a/{p*3}/z", "/a/x/y/w/z", {"p": "x/y/w"}),
        ("/a/{p*2}", "/a/x%2Fy/z", {"p": "x/y/z"}),
        ("/{p*2}/", "/x/y/", {"p": "x/y"}),
    ],
)
def test_param_values(route: str, request_path: str, params: dict[str, str]) -> None:
    match = build(route).match("GET", request_path)
    assert (match.status, match.params) == (200, params)


@pytest.mark.parametrize(
    ("route", "request_path"),
    [
        ("/a/{b?}", "/a/x/"),
        ("/a/{b?}", "/a/x/y"),
        ("/a/{p*2}", "/a/x"),
        ("/a/{p*2}", "/a/x/y/z"),
        ("/a/{p*2}", "/a//y"),
        ("/a/{p*2}", "/a/x/"),
        ("/a/{b}", "/a/"),
        ("/x/{b}/c", "/x//c"),
        ("/{p}", "//"),
        ("/{p}", "/"),
        ("/a/{b}/", "/a//"),
    ],
)
def test_no_match(route: str, request_path: str) -> None:
    assert build(route).match("GET", request_path).status == 404


def test_empty_last_segment_matches_a_trailing_slash_route() -> None:
    assert winner(["/a/{b}/", "/a/{b}"], "/a/x/") == "/a/{b}/"


def test_empty_segment_never_fills_a_param_but_can_lie_in_a_wildcard() -> None:
    assert winner(["/x/{b}/c", "/x/{rest*}"], "/x//c") == "/x/{rest*}"


def test_param_values_keep_their_case() -> None:
    assert build("/{Name}").match("GET", "/DaNNy").params == {"Name": "DaNNy"}


# (c) Matching: decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("abc", "abc"),
        ("a%2Fb", "a/b"),
        ("a%2fb", "a/b"),
        ("a+b", "a+b"),
        ("%00", "\x00"),
        ("%F0%9F%98%80", "\U0001f600"),
        ("caf%C3%A9", "café"),
        ("%25", "%"),
        ("%2541", "%41"),
        ("%20x", " x"),
        ("é", "é"),
    ],
)
def test_decode_param(raw: str, decoded: str) -> None:
    assert decode_param(raw) == decoded


@pytest.mark.parametrize(
    "raw", ["%FF", "%E2%9C", "%E2%9Cx", "%zz", "%", "a%", "%2", "%C0%AF", "%ED%A0%80", "%F4%90%80%80"]
)
def test_decode_param_failure(raw: str) -> None:
    assert decode_param(raw) is None


@pytest.mark.parametrize(
    ("request_path", "value"),
    [
        ("/a/x%2Fy", "x/y"),
        ("/a/x+y", "x+y"),
        ("/a/%F0%9F%98%80", "\U0001f600"),
        ("/a/%00", "\x00"),
        ("/a/%41", "A"),
    ],
)
def test_params_are_decoded(request_path: str, value: str) -> None:
    assert build("/a/{p}").match("GET", request_path).params == {"p": value}


@pytest.mark.parametrize("request_path", ["/a/%FF", "/a/%E2%9C", "/a/%zz", "/a/%", "/a/x%", "/a/%C0%AF"])
def test_bad_encoding_is_400(request_path: str) -> None:
    match = build("/a/{p}").match("GET", request_path)
    assert (match.status, match.target, match.params) == (400, None, {})
    assert match.route == parse_route("/a/{p}")


def test_bad_encoding_does_not_fall_back_to_another_route() -> None:
    assert build("/a/{p}", "/{rest*}").match("GET", "/a/%FF").status == 400


def test_bad_encoding_in_a_wildcard_is_400() -> None:
    assert build("/a/{p*}").match("GET", "/a/x/%E2%9C").status == 400


def test_literals_are_never_decoded() -> None:
    """A literal route holding %FF matches the escape; nothing is decoded, so no 400."""
    match = build("/%FF").match("GET", "/%ff")
    assert (match.status, match.params) == (200, {})


# Known hapi bugs, not reproduced ---------------------------------------------------------------------


def test_bug1_empty_segment_never_enters_the_param_branch() -> None:
    table = build("/a/{b?}", "/a/{c}/d")
    assert table.match("GET", "/a//d").status == 404
    assert table.match("GET", "/a/").params == {"b": ""}


def test_bug2_each_mixed_route_keeps_its_own_regex() -> None:
    for order in (["/a{p}/x", "/a{q?}/y"], ["/a{q?}/y", "/a{p}/x"]):
        table = build(*order)
        match = table.match("GET", "/a/y")
        assert (match.target, match.params) == ("/a{q?}/y", {"q": ""})
        assert table.match("GET", "/a/x").status == 404
        assert table.match("GET", "/ab/x").params == {"p": "b"}


@pytest.mark.parametrize("name", ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"])
def test_bug3_prototype_names_are_ordinary_params(name: str) -> None:
    match = build(f"/{{{name}}}/{{x}}").match("GET", "/v/w")
    assert match.params == {name: "v", "x": "w"}


def test_bug3_prototype_names_as_literals() -> None:
    assert winner(["/constructor", "/{p}"], "/constructor") == "/constructor"
    assert winner(["/{p}"], "/__proto__") == "/{p}"


# Methods: 405, HEAD ----------------------------------------------------------------------------------


def methods_table() -> RouteTable[str]:
    table: RouteTable[str] = RouteTable()
    table.add("GET", parse_route("/items/{id}"), "get")
    table.add("DELETE", parse_route("/items/{id}"), "delete")
    table.add("POST", parse_route("/items"), "post")
    return table


def test_405_lists_the_methods_that_match() -> None:
    match = methods_table().match("PUT", "/items/1")
    assert (match.status, match.target, match.allowed) == (405, None, ("DELETE", "GET"))


def test_404_when_no_method_matches() -> None:
    match = methods_table().match("GET", "/nothing")
    assert (match.status, match.allowed) == (404, ())


def test_head_is_served_by_get() -> None:
    match = methods_table().match("HEAD", "/items/1")
    assert (match.status, match.target, match.params) == (200, "get", {"id": "1"})


def test_head_without_get_route_is_405() -> None:
    match = methods_table().match("HEAD", "/items")
    assert (match.status, match.allowed) == (405, ("POST",))


def test_options_without_options_route_is_405_with_allowed_methods() -> None:
    match = methods_table().match("OPTIONS", "/items/7")
    assert (match.status, match.allowed) == (405, ("DELETE", "GET"))


def test_unknown_request_method_is_405() -> None:
    assert methods_table().match("TRACE", "/items").allowed == ("POST",)


def test_allowed_methods() -> None:
    assert methods_table().allowed_methods("/items/1?x") == ("DELETE", "GET")
    assert methods_table().allowed_methods("/nope") == ()


def test_each_method_has_its_own_precedence() -> None:
    table: RouteTable[str] = RouteTable()
    table.add("GET", parse_route("/a/{x}"), "get")
    table.add("POST", parse_route("/a/b"), "post")
    assert table.match("GET", "/a/b").target == "get"
    assert table.match("POST", "/a/b").target == "post"
    assert table.match("POST", "/a/c").status == 405


# match_all, explain_precedence -----------------------------------------------------------------------


def test_match_all_lists_every_matching_route_best_first() -> None:
    table = build("/{p*}", "/devices/{id}", "/devices/x", "/{a}/{b}", "/other")
    candidates = table.match_all("GET", "/devices/x")
    assert [c.route.path for c in candidates] == ["/devices/x", "/devices/{id}", "/{a}/{b}", "/{p*}"]
    assert [c.params for c in candidates] == [{}, {"id": "x"}, {"a": "devices", "b": "x"}, {"p": "devices/x"}]


@pytest.mark.parametrize(
    ("routes", "request_path", "steps"),
    [
        (["/devices/x"], "/devices/x", ("full-literal", "full-literal")),
        (["/devices/{id}"], "/devices/x", ("literal", "param")),
        (["/f/{a}.{b}"], "/f/x.y", ("literal", "mixed")),
        (["/a/{b?}"], "/a/x", ("literal", "optional")),
        (["/a/{b?}"], "/a/", ("literal", "optional")),
        (["/a/{b?}"], "/a", ("full-literal", "absent-optional")),
        (["/x/{y}/{b?}"], "/x/1", ("literal", "param", "absent-optional")),
        (["/a/{p*}"], "/a/x/y", ("literal", "wildcard", "wildcard")),
        (["/a/{p*}"], "/a", ("literal", "absent-wildcard")),
        (["/{p*2}/z"], "/x/y/z", ("param", "param", "full-literal")),
        (["/{p?}"], "/", ("full-literal", "absent-optional")),
    ],
)
def test_candidate_steps(routes: list[str], request_path: str, steps: tuple[str, ...]) -> None:
    (candidate,) = build(*routes).match_all("GET", request_path)
    assert candidate.steps == steps


def test_match_all_gives_none_params_when_decoding_fails() -> None:
    (candidate,) = build("/a/{p}").match_all("GET", "/a/%FF")
    assert candidate.params is None


def test_match_all_uses_the_get_table_for_head() -> None:
    assert [c.target for c in methods_table().match_all("HEAD", "/items/1")] == ["get"]


def test_match_all_is_empty_without_a_table() -> None:
    assert methods_table().match_all("PATCH", "/items/1") == []


def explain(routes: list[str], request_path: str, loser: str) -> str:
    candidates = build(*routes).match_all("GET", request_path)
    losing = next(c for c in candidates if c.route.path == loser)
    return explain_precedence(candidates[0], losing)


@pytest.mark.parametrize(
    ("routes", "request_path", "loser", "sentence"),
    [
        (
            ["/devices/{id}", "/devices/x"],
            "/devices/x",
            "/devices/{id}",
            "segment 2 ('x'): literal 'x' beats param {id}",
        ),
        (
            ["/a/{p*}", "/a"],
            "/a",
            "/a/{p*}",
            "'/a' ends at the request's last segment; an absent wildcard ranks below",
        ),
        (["/{p*}", "/a/{b}"], "/a/x", "/{p*}", "segment 1 ('a'): literal 'a' beats wildcard {p*}"),
        (["/f/{p}", "/f/{a}.{b}"], "/f/x.y", "/f/{p}", "segment 2 ('x.y'): mixed '{a}.{b}' beats param {p}"),
        (
            ["/files/{name}.json", "/files/{name}.{ext}"],
            "/files/a.json",
            "/files/{name}.json",
            "segment 2 ('a.json'): mixed '{name}.{ext}' beats mixed '{name}.json' (more parts: 3 vs 2)",
        ),
        (
            ["/{p}x", "/x{p}"],
            "/xax",
            "/{p}x",
            "segment 1 ('xax'): mixed 'x{p}' beats mixed '{p}x' (literal-first before param-first)",
        ),
        (
            ["/a{p}", "/ab{p}"],
            "/abc",
            "/a{p}",
            "segment 1 ('abc'): mixed 'ab{p}' beats mixed 'a{p}' (longer literal 'ab' vs 'a')",
        ),
        (
            ["/{p}ba{q}", "/{p}ab{q}"],
            "/xabay",
            "/{p}ba{q}",
            "segment 1 ('xabay'): mixed '{p}ab{q}' beats mixed '{p}ba{q}' (literal 'ab' sorts before 'ba')",
        ),
        (
            ["/a/{b}/{c?}", "/a/{b}/{d*}"],
            "/a/x",
            "/a/{b}/{d*}",
            "'/a/{b}/{c?}' ends at the request's last segment (its optional {c?} absent);"
            " an absent wildcard ranks below",
        ),
        (["/{p}", "/{q*}"], "/x", "/{q*}", "segment 1 ('x'): param {p} beats wildcard {q*}"),
        (["/a/{b?}", "/{q*}"], "/a/x", "/{q*}", "segment 1 ('a'): literal 'a' beats wildcard {q*}"),
        (["/{a}/{b?}", "/{a}/x"], "/v/x", "/{a}/{b?}", "segment 2 ('x'): literal 'x' beats optional {b?}"),
    ],
)
def test_explain_precedence(routes: list[str], request_path: str, loser: str, sentence: str) -> None:
    assert explain(routes, request_path, loser) == sentence


def test_explain_mixed_required_before_optional() -> None:
    table = build("/a{q?}/y", "/a{p}/{r*}")
    candidates = table.match_all("GET", "/ab/y")
    assert [c.route.path for c in candidates] == ["/a{p}/{r*}", "/a{q?}/y"]
    assert explain_precedence(candidates[0], candidates[1]) == (
        "segment 1 ('ab'): mixed 'a{p}' beats mixed 'a{q?}' (required params rank before optional ones)"
    )


def test_explain_refuses_a_loser_that_ranks_first() -> None:
    candidates = build("/devices/{id}", "/devices/x").match_all("GET", "/devices/x")
    with pytest.raises(ValueError, match="ranks above"):
        explain_precedence(candidates[1], candidates[0])


def test_explain_refuses_the_same_route() -> None:
    (candidate,) = build("/a").match_all("GET", "/a")
    with pytest.raises(ValueError, match="same route"):
        explain_precedence(candidate, candidate)


def test_candidate_carries_the_normalized_path() -> None:
    (candidate,) = build("/b").match_all("GET", "/a/../b?q")
    assert candidate == Candidate("/b", parse_route("/b"), {}, ("full-literal",), "/b")


# entries ---------------------------------------------------------------------------------------------


def test_entries_are_in_match_order() -> None:
    table: RouteTable[str] = RouteTable()
    declared = [
        ("GET", "/{p*}"),
        ("GET", "/a/{b}/c"),
        ("GET", "/c/{x?}"),
        ("GET", "/a/{id}.json"),
        ("GET", "/a/{id}.{ext}"),
        ("GET", "/a/{b}/{c*}"),
        ("GET", "/e/{y*}"),
        ("GET", "/e/{x?}"),
        ("GET", "/f/{y?}"),
        ("POST", "/f/{x}"),
        ("GET", "/a/b"),
        ("GET", "/b"),
        ("POST", "/a"),
        ("GET", "/a"),
        ("GET", "/A"),
        ("GET", "/a/{y}/d"),
        ("GET", "/"),
        ("DELETE", "/a/b"),
    ]
    for method, path in declared:
        table.add(method, parse_route(path), path)
    assert [(method, route.path) for method, route, _ in table.entries()] == [
        ("GET", "/"),
        ("GET", "/A"),
        ("GET", "/a"),
        ("POST", "/a"),
        ("DELETE", "/a/b"),
        ("GET", "/a/b"),
        ("GET", "/a/{id}.{ext}"),
        ("GET", "/a/{id}.json"),
        ("GET", "/a/{b}/c"),
        ("GET", "/a/{y}/d"),
        ("GET", "/a/{b}/{c*}"),
        ("GET", "/b"),
        ("GET", "/c/{x?}"),
        ("GET", "/e/{x?}"),
        ("GET", "/e/{y*}"),
        ("POST", "/f/{x}"),
        ("GET", "/f/{y?}"),
        ("GET", "/{p*}"),
    ]


def test_entries_do_not_depend_on_declaration_order() -> None:
    paths = ["/a/{b}", "/a/b", "/{c}.{d}", "/x{y}", "/{p*}", "/a/{b}/x/{c?}", "/q/{r*2}"]
    assert [r.path for _, r, _ in build(*paths).entries()] == [
        r.path for _, r, _ in build(*paths[::-1]).entries()
    ]


def test_len_counts_routes_not_claims() -> None:
    assert len(build("/a/{b?}", "/c")) == 2


# Properties over generated route sets ----------------------------------------------------------------

_PIECES = ["a", "b", "{p}", "{q?}", "{r*}", "x{m}", "{m}.j", "{m}.{n}", "{s*2}", ""]
_REQUEST_PIECES = ["a", "b", "x", "xa", "a.j", "b.c.j", "", "%41", "%FF", "z"]


def random_routes(rng: random.Random) -> list[str]:
    routes: dict[str, str] = {}
    table: RouteTable[str] = RouteTable()
    for _ in range(rng.randint(1, 12)):
        pieces = [rng.choice(_PIECES) for _ in range(rng.randint(1, 3))]
        path = "/" + "/".join(pieces)
        try:
            route = parse_route(path)
            table.add("GET", route, path)
        except (RouteSyntaxError, RouteConflictError):
            continue
        routes[path] = path
    return list(routes)


def random_request(rng: random.Random) -> str:
    return "/" + "/".join(rng.choice(_REQUEST_PIECES) for _ in range(rng.randint(1, 4)))


def test_results_never_depend_on_declaration_order() -> None:
    rng = random.Random(20240601)
    for _ in range(300):
        routes = random_routes(rng)
        shuffled = routes[:]
        rng.shuffle(shuffled)
        first, second = build(*routes), build(*shuffled)
        for _ in range(10):
            request = random_request(rng)
            assert first.match("GET", request) == second.match("GET", request), (routes, request)


def test_match_all_agrees_with_match_and_with_single_route_tables() -> None:
    rng = random.Random(7)
    for _ in range(300):
        routes = random_routes(rng)
        table = build(*routes)
        for _ in range(10):
            request = random_request(rng)
            candidates = table.match_all("GET", request)
            found = table.match("GET", request)
            alone = {path for path in routes if build(path).match("GET", request).status != 404}
            assert {c.route.path for c in candidates} == alone, (routes, request)
            if candidates:
                best = candidates[0]
                assert found.route == best.route
                assert found.status == (200 if best.params is not None else 400)
                if best.params is not None:
                    assert found.params == best.params
                for loser in candidates[1:]:
                    assert explain_precedence(best, loser)
            else:
                assert found.status == 404


# Building ---------------------------------------------------------------------------------------------


def test_routes_added_after_a_match_are_found() -> None:
    table = build("/a/{b}")
    assert table.match("GET", "/a/x").target == "/a/{b}"
    table.add("GET", parse_route("/a/x"), "/a/x")
    table.add("GET", parse_route("/{p*}"), "/{p*}")
    assert table.match("GET", "/a/x").target == "/a/x"
    assert table.match("GET", "/z").target == "/{p*}"


def first_request(table: RouteTable[str], barrier: threading.Barrier, results: list[str | None]) -> None:
    barrier.wait()
    results.append(table.match("GET", "/s1999/items/7").target)


def test_concurrent_first_matches_see_the_whole_table() -> None:
    """The tree is built at the first lookup; threads arriving together must all see every route."""
    paths = [f"/s{i}/items/{{id}}" for i in range(2000)]
    for _ in range(5):
        table = build(*paths)
        barrier = threading.Barrier(8)
        results: list[str | None] = []
        threads = [threading.Thread(target=first_request, args=(table, barrier, results)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == ["/s1999/items/{id}"] * 8


def test_multi_segment_params_are_bounded() -> None:
    """hapi has no bound: a typo like {p*999999999} must be a problem, not exhausted memory."""
    assert len(parse_route("/a/{p*16}").segments) == 17
    with pytest.raises(RouteSyntaxError, match=r"spans at most 16 segments: /a/\{p\*999999999\}"):
        parse_route("/a/{p*999999999}")


@pytest.mark.parametrize("count", ["17", "64", "1" * 5000])
def test_multi_segment_limit_message(count: str) -> None:
    """Even thousands of digits (past what int() takes) give the message, not a bare ValueError."""
    path = f"/a/{{p*{count}}}"
    with pytest.raises(RouteSyntaxError) as caught:
        parse_route(path)
    assert str(caught.value) == f"A {{p*N}} parameter spans at most 16 segments: {path}"
