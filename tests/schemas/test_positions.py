"""Key lines: problems point at the line a user wrote, which tomllib does not report."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from epctl.schemas.positions import KeyLines, _skip_value, _walk_value, scan_key_lines

TEXT = '''[project]
name = "x"   # a comment

[settings]
response_headers = { "X-Frame-Options" = "DENY" }

[[endpoint]]
id = "a"
description = """
[[endpoint]]
route = "not a key"
"""
groups = [
  "a",
  "b",
]
reply = { type = "page", page = "p" }

[[endpoint]]
id = "b"
"quoted.key".part = 2

[environments.production]
version = "v1"
'''


def test_every_key_gets_the_line_that_wrote_it() -> None:
    assert scan_key_lines(TEXT) == {
        "project": 1,
        "project.name": 2,
        "settings": 4,
        "settings.response_headers": 5,
        "endpoint[0]": 7,
        "endpoint[0].id": 8,
        "endpoint[0].description": 9,
        "endpoint[0].groups": 13,
        "endpoint[0].reply": 17,
        "endpoint[1]": 19,
        "endpoint[1].id": 20,
        "endpoint[1].quoted.key.part": 21,
        "environments.production": 23,
        "environments.production.version": 24,
    }


def test_a_missing_key_points_at_its_table_and_an_inline_key_at_its_line() -> None:
    lines = KeyLines(TEXT)
    assert lines.line_of("endpoint[1].route") == 19
    assert lines.line_of("endpoint[0].groups[1]") == 13
    assert lines.line_of("endpoint[0].reply.page") == 17
    assert lines.line_of("auth.secret_env") is None


def test_strings_with_quotes_and_escapes_do_not_confuse_the_scan() -> None:
    text = 'a = "x \\" [[t]]"\nb = \'lit "\'\nc = """one ""quoted"" """\nd = 1\n'
    assert scan_key_lines(text) == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_a_key_is_never_read_across_lines() -> None:
    """TOML keys do not span lines: a scan that let them did quadratic work on `[` + `a\\n.\\n`..."""
    assert scan_key_lines("[a\n.\nb]\nc = 1\n") == {"c": 4}
    assert scan_key_lines("x\n.\ny = 1\n") == {"y": 3}
    assert scan_key_lines("[" + "a\n.\n" * 1000 + "z = 1\n") == {"z": 2001}


def test_quoted_keys_with_escapes_read_as_tomli_reads_them() -> None:
    lines = scan_key_lines('[environments."qa\\nroot"]\nversion = "v1"\n')
    assert lines == {"environments.qa\nroot": 1, "environments.qa\nroot.version": 2}


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="\"'[]{}#\n\t \\ab=1.", max_size=40))
def test_the_one_line_shortcut_ends_a_value_where_the_walk_does(value: str) -> None:
    """Every value the shortcut takes ends where the character walk would have ended it."""
    text = value + "\nnext = 1\n"
    assert _skip_value(text, 0) == _walk_value(text, 0)
