"""Line numbers of TOML keys, which tomllib/tomli do not report.

A light scanner over the file text maps every key path it sees (`endpoint[2].route`,
`settings.cors`, `environments.production.version`) to the line that wrote it. It understands
table headers, arrays of tables, dotted and quoted keys, and skips multi-line strings and
multi-line arrays, which is all the project files use. It runs only when a problem needs a line,
so a clean 10,000-endpoint project never pays for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import tomli

# A key never spans lines (TOML allows only spaces and tabs around its dots), so no pattern may cross
# a newline: each match is then bounded by its line and the scan stays linear in the file's length.
_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_DOTTED = rf"{_BARE_OR_QUOTED}(?:[ \t]*\.[ \t]*{_BARE_OR_QUOTED})*"
_HEADER = re.compile(rf"[ \t]*(\[\[|\[)[ \t]*({_DOTTED})[ \t]*\]\]?")
_ASSIGN = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=[ \t]*")
_KEY_PART = re.compile(_BARE_OR_QUOTED)
# A value that ends on its own line: no bracket, no quote but those of one basic or literal string,
# then an optional comment. Most values are; `_skip_value` then needs no walk character by character.
_ONE_LINE_VALUE = re.compile(
    r"""(?:"(?:[^"\\\n]|\\.)*"[ \t]*|'[^'\n]*'[ \t]*|[^"'\[\]{}#\n]*)(?:#[^\n]*)?(?=\n|\Z)"""
)


def split_dotted(dotted: str) -> list[str]:
    """Return the parts of a dotted TOML key, unquoted: `a."b.c".d` -> ["a", "b.c", "d"]."""
    parts = []
    for match in _KEY_PART.finditer(dotted):
        part = match.group(0)
        if part[0] == '"' and "\\" in part:
            part = _unescape(part)
        elif part[0] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return parts


def _unescape(quoted: str) -> str:
    """Return the value of a basic-string key with escapes (`"qa\\nroot"`), as tomli reads it."""
    try:
        value = tomli.loads(f"k = {quoted}")["k"]
    except tomli.TOMLDecodeError:
        return quoted[1:-1]
    return value if isinstance(value, str) else quoted[1:-1]


def join_key(prefix: str, parts: list[str]) -> str:
    return ".".join([prefix, *parts]) if prefix else ".".join(parts)


def _skip_value(text: str, start: int) -> int:
    """Return the index just past the value that begins at `start` (strings and brackets balanced)."""
    simple = _ONE_LINE_VALUE.match(text, start)
    if simple is not None and not text.startswith(('"""', "'''"), start):
        return simple.end()
    return _walk_value(text, start)


def _walk_value(text: str, start: int) -> int:
    """`_skip_value`, character by character: for values spanning lines (arrays, tables, multi-line
    strings) and anything unusual."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            triple = text[i : i + 3]
            if triple in ('"""', "'''"):
                end = text.find(triple, i + 3)
                while end != -1 and triple == '"""' and _escaped(text, end):
                    end = text.find(triple, end + 1)
                i = n if end == -1 else end + 3
                # A closing triple quote may be followed by up to two more quotes of content.
                while i < n and text[i] == triple[0]:
                    i += 1
                continue
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if (ch == '"' and text[j] == "\\") else 1
            i = j + 1
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "#":
            newline = text.find("\n", i)
            i = n if newline == -1 else newline
            continue
        elif ch == "\n" and depth <= 0:
            return i
        i += 1
    return n


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    while index > 0 and text[index - 1] == "\\":
        backslashes += 1
        index -= 1
    return backslashes % 2 == 1


def scan_key_lines(text: str) -> dict[str, int]:
    """Return a map of every key path written in `text` to its 1-based line.

    Array-of-tables entries are numbered as tomllib numbers them: `[[endpoint]]` headers give
    `endpoint[0]`, `endpoint[1]`, ... and the header line itself is recorded under that path.
    """
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    prefix = ""
    pos = 0
    line_no = 1
    counted_to = 0
    n = len(text)
    while pos < n:
        # Count newlines only over the stretch just passed, so the scan stays linear.
        line_no += text.count("\n", counted_to, pos)
        counted_to = pos
        header = _HEADER.match(text, pos)
        assign = None if header else _ASSIGN.match(text, pos)
        if header:
            parts = split_dotted(header.group(2))
            name = ".".join(parts)
            if header.group(1) == "[[":
                index = counts.get(name, 0)
                counts[name] = index + 1
                prefix = f"{name}[{index}]"
            else:
                prefix = name
            lines.setdefault(prefix, line_no)
            newline = text.find("\n", header.end())
            pos = n if newline == -1 else newline + 1
        elif assign:
            key = join_key(prefix, split_dotted(assign.group(1)))
            lines.setdefault(key, line_no)
            end = _skip_value(text, assign.end())
            newline = text.find("\n", end)
            pos = n if newline == -1 else newline + 1
        else:
            newline = text.find("\n", pos)
            pos = n if newline == -1 else newline + 1
    return lines


def find_failing_line(text: str, fails: Callable[[str], bool]) -> int:
    """Return the first line N of `text` such that `fails(the text up to and with line N)`.

    For errors that carry no line (a parser's RecursionError on deep nesting): `fails` must be
    monotonic (a prefix fails, so does every longer one) and true for the whole text. Bisection calls
    it about log2(lines) times, so finding the line stays near-linear in the text's length.
    """
    ends = [match.end() for match in re.finditer("\n", text)]
    if not ends or ends[-1] != len(text):
        ends.append(len(text))
    low, high = 0, len(ends) - 1
    while low < high:
        middle = (low + high) // 2
        if fails(text[: ends[middle]]):
            high = middle
        else:
            low = middle + 1
    return low + 1


class KeyLines:
    """Lazily scanned key lines of one file's text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: dict[str, int] | None = None

    def line_of(self, key: str) -> int | None:
        """Return the line of `key`, else of its nearest written parent (`endpoint[2]` for a missing
        `endpoint[2].route`, `endpoint[0].groups` for `endpoint[0].groups[1]`), else None."""
        if self._lines is None:
            self._lines = scan_key_lines(self.text)
        candidate = key
        while candidate:
            if candidate in self._lines:
                return self._lines[candidate]
            if candidate.endswith("]") and "[" in candidate:
                candidate = candidate[: candidate.rindex("[")]
            elif "." in candidate:
                candidate = candidate[: candidate.rindex(".")]
            else:
                break
        return None
