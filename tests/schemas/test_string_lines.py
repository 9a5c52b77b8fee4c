"""Template syntax errors in an inline `body` point at the line of the file that holds the error."""

from __future__ import annotations

import pytest

from epctl.schemas.loader import read_project
from epctl.schemas.string_lines import find_string_line
from tests.conftest import WriteProject

PAGE = '[[page]]\nname = "p"\n'


@pytest.mark.parametrize(
    ("body", "line"),
    [
        # One line: every template line is on the key's line, escaped newlines too.
        ('body = "<h1>{{ x + }}</h1>"\n', 3),
        ('body = "<h1>ok</h1>\\n{{ x + }}"\n', 3),
        ("body = '{{ x + }}'\n", 3),
        # A newline right after the opening quotes is not part of the string.
        ('body = """\n<h1>ok</h1>\n{{ x + }}\n"""\n', 5),
        ('body = """<h1>ok</h1>\n{{ x + }}\n"""\n', 4),
        ("body = '''\n<p>a</p>\n<p>b</p>\n{{ x + }}'''\n", 6),
        # A line-ending backslash joins two file lines into one template line.
        ('body = """\n<p>a \\\n   b</p>\n<p>c</p>\n{{ x + }}\n"""\n', 7),
    ],
)
def test_an_inline_template_error_names_the_file_line(
    write_project: WriteProject, body: str, line: int
) -> None:
    root = write_project({"pages/p.toml": PAGE + body})
    _, problems = read_project(root)
    assert [(p.code, p.file, p.line) for p in problems] == [("template-syntax", "pages/p.toml", line)]


def test_a_line_the_string_does_not_have_points_at_the_key() -> None:
    text = PAGE + 'body = "one line"\n'
    assert find_string_line(text, 3, 1) == 3
    assert find_string_line(text, 3, 2) is None
    assert find_string_line(text, 1, 1) is None  # `[[page]]` assigns no string
    assert find_string_line(text, 9, 1) is None
