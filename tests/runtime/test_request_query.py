"""`request.query`: a plain query string is split without decoding, with the standard library's rules."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from epctl.runtime.request import read_query


@pytest.mark.parametrize(
    "text",
    ["a=1&b=2", "a=1&a=2", "a", "a=", "=x", "&&a=1&", "a=b=c", "x=1;y=2", "&", "=", "a&b", "k=v&k", "q=a+b"],
)
def test_plain_queries_read_as_parse_qsl_reads_them(text: str) -> None:
    assert read_query(text) == dict(parse_qsl(text, keep_blank_values=True))


def test_encoded_queries_are_decoded_and_bad_utf8_stays_encoded() -> None:
    assert read_query("q=caf%C3%A9&x=%FF") == {"q": "café", "x": "%FF"}
