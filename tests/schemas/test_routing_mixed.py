"""Mixed segments match in one linear pass, with exactly the greedy regex's answer."""

from __future__ import annotations

import itertools
import operator
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import SupportsIndex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epctl.schemas.routing import Matched, NotFound, Router, parse_route
from epctl.schemas.routing.mixed import MixedPattern

SHAPES = [
    "{a}.x",
    "x{a}",
    "x{a}y",
    "{a}.{b}",
    "{a?}.{b?}",
    "x{a}.{b}y",
    "{y}-{m}-{d}.csv",
    "{a}-{b?}-{c}-{d}",
    "a{b?}c{d}",
    "{a}ab{b}ba{c}",
    "{a}.{b}.{c}.{d}.{e}.{f}",
]


def pattern_of(segment: str) -> MixedPattern:
    """Return the matcher `parse_route` builds for the mixed `segment`."""
    (parsed,) = parse_route("/" + segment).segments
    assert parsed.pattern is not None
    return parsed.pattern


def regex_of(pattern: MixedPattern) -> re.Pattern[str]:
    """Return hapi's regex for the same segment: escaped chunks, `(.+)` for `{p}`, `(.*)` for `{p?}`."""
    parts = [re.escape(pattern.chunks[0])]
    for optional, chunk in zip(pattern.optional, pattern.chunks[1:], strict=True):
        parts += ["(.*)" if optional else "(.+)", re.escape(chunk)]
    return re.compile("".join(parts), re.DOTALL)


def regex_values(pattern: MixedPattern, text: str) -> tuple[str, ...] | None:
    found = regex_of(pattern).fullmatch(text)
    return None if found is None else found.groups()


@pytest.mark.parametrize(
    ("segment", "text", "values"),
    [
        ("{a}.{b}", "a.b.c", ("a.b", "c")),
        ("{name}.{ext}", "a.json", ("a", "json")),
        ("{a}.{b?}", "x.", ("x", "")),
        ("{a}.{b}", "x.", None),
        ("a{b?}c{d}", "acx", ("", "x")),
        ("{y}-{m}-{d}.csv", "2024-01-31.csv", ("2024", "01", "31")),
        ("{y}-{m}-{d}.csv", "a-b-c-d-e.csv", ("a-b-c", "d", "e")),
        ("{y}-{m}-{d}.csv", "--.csv", None),
        ("{y}-{m}-{d}.csv", "-----.csv", ("-", "-", "-")),
        ("x{a}x", "xx", None),
        ("x{a?}x", "x", None),
        ("x{a?}x", "xx", ("",)),
        ("aa{p}aa", "aaa", None),
        ("aa{p}aa", "aaaaa", ("a",)),
        ("{a}aa{b}", "xaaay", ("xa", "y")),
        ("{a}ab{b}ab{c}", "ababababab", ("ab", "ab", "ab")),
    ],
)
def test_mixed_values(segment: str, text: str, values: tuple[str, ...] | None) -> None:
    assert pattern_of(segment).match(text) == values
    assert regex_values(pattern_of(segment), text) == values


def test_pattern_needs_one_chunk_more_than_params() -> None:
    with pytest.raises(ValueError, match="one chunk more than params"):
        MixedPattern(("a", "b"), (False, False))


_ALPHABET = "ab.-"


def mixed_shapes() -> list[str]:
    """Every mixed segment of 1-3 params, some optional, between chunks chosen to overlap each other
    and the alphabet 'ab.-' (`a-a` in `a-a-a`, `ab` and `a-` sharing `a`): 2,600-odd segments."""
    heads, middles, tails = ["", "a", "-"], ["a", ".", "-", "ab", "a-a"], ["", "b", ".", "a-"]
    shapes = []
    for count in (1, 2, 3):
        for head, tail in itertools.product(heads, tails):
            if count == 1 and not head and not tail:
                continue  # (a) a mixed segment has at least one literal
            for middle in itertools.product(middles, repeat=count - 1):
                for optional in itertools.product(("", "?"), repeat=count):
                    params = [f"{{p{index}{flag}}}" for index, flag in enumerate(optional)]
                    text = head + params[0]
                    for chunk, param in zip(middle, params[1:], strict=True):
                        text += chunk + param
                    shapes.append(text + tail)
    return shapes


def texts_of(pattern: MixedPattern, data: bytes) -> list[str]:
    """Turn bytes into texts: byte 255 starts a new text, any other byte is one of the segment's own
    chunks or a letter of 'ab.-' (overlaps and boundaries come up far more often than in random text).
    Drawing bytes keeps hypothesis's cost per example low."""
    pieces = [chunk for chunk in pattern.chunks if chunk] + list(_ALPHABET)
    return ["".join(pieces[byte % len(pieces)] for byte in part) for part in data.split(b"\xff")]


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.sampled_from(mixed_shapes()), st.binary(max_size=200))
def test_matcher_agrees_with_the_greedy_regex(segment: str, data: bytes) -> None:
    pattern = pattern_of(segment)
    for text in texts_of(pattern, data):
        assert pattern.match(text) == regex_values(pattern, text), (segment, text)


class CountedText(str):
    """A request segment that records every search made in it, to count the matcher's work."""

    searches: list[tuple[int, int, int]]  # (start, end, result) of each rfind
    calls: int

    def rfind(self, sub: str, start: SupportsIndex | None = None, end: SupportsIndex | None = None, /) -> int:
        assert start is not None and end is not None, "the matcher bounds every search"
        self.calls += 1
        found = super().rfind(sub, start, end)
        self.searches.append((operator.index(start), operator.index(end), found))
        return found

    def find(self, *args: object) -> int:
        raise AssertionError("the matcher searches right to left only")

    def startswith(self, prefix: str | tuple[str, ...], *args: SupportsIndex | None) -> bool:
        self.calls += 1
        return super().startswith(prefix, *args)

    def endswith(self, suffix: str | tuple[str, ...], *args: SupportsIndex | None) -> bool:
        self.calls += 1
        return super().endswith(suffix, *args)


def counted(text: str) -> CountedText:
    result = CountedText(text)
    result.searches = []
    result.calls = 0
    return result


def scanned(text: CountedText) -> int:
    """Characters the searches read: rfind reads from `end` leftwards to what it finds, or to `start`."""
    return sum(end - (start if found < 0 else found) for start, end, found in text.searches)


def adversarial_texts(pattern: MixedPattern, size: int) -> Iterator[str]:
    """Long runs of each character of the segment's chunks, bare and between its head and tail."""
    head, tail = pattern.chunks[0], pattern.chunks[-1]
    for character in sorted(set("".join(pattern.chunks)) | {"z"}):
        run = character * size
        yield from (run, head + run, run + tail, head + run + tail)
    middle = "".join(pattern.chunks[1:-1]) or "z"
    yield head + middle * (size // len(middle)) + tail


@pytest.mark.parametrize("segment", SHAPES)
def test_a_100_kb_segment_is_matched_in_one_bounded_pass(segment: str) -> None:
    """The regex takes cubic time here (seconds at 1,300 characters); the matcher reads each character
    at most once, with one search per literal chunk between params, whatever the text."""
    pattern = pattern_of(segment)
    params = len(pattern.optional)
    for raw in adversarial_texts(pattern, 100_000):
        text = counted(raw)
        pattern.match(text)
        assert len(text.searches) <= params - 1, raw[:20]
        assert text.calls <= params + 1, raw[:20]
        assert scanned(text) <= len(raw), raw[:20]


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: the regex engine checks for signals, so SIGALRM interrupts it."""

    def fail(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"still matching after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_adversarial_requests_through_the_router() -> None:
    built: Router[str] = Router()
    for index, segment in enumerate(SHAPES):
        built.add("GET", parse_route(f"/s{index}/{segment}"), segment)
    with time_limit(20):
        for index, segment in enumerate(SHAPES):
            for raw in adversarial_texts(pattern_of(segment), 100_000):
                outcome = built.match("GET", f"/s{index}/{raw}")
                expected = pattern_of(segment).match(raw)
                if expected is None:
                    assert outcome == NotFound(f"/s{index}/{raw}")
                else:
                    assert isinstance(outcome, Matched) and outcome.target == segment
        found = built.match("GET", "/s6/" + "-" * 100_000 + ".csv")
        assert isinstance(found, Matched)
        assert found.params == {"y": "-" * 99_996, "m": "-", "d": "-"}
