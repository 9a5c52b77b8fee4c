"""Which line of a TOML file holds a given line of a string value (an inline template `body`).

A template error names a line of the decoded string; the user needs the line of the file. They differ:
a one-line `"..."` holds every template line on the key's own line (`\\n` escapes included); a
multi-line string drops the newline right after its opening quotes, and a line-ending backslash in a
basic multi-line string joins lines.
"""

from __future__ import annotations

import re

_ASSIGN = re.compile(r"""[ \t]*[A-Za-z0-9_"'.\- \t]+=[ \t]*""")
_DELIMITERS = ('"""', "'''", '"', "'")
_LINE_END = re.compile(r"[ \t]*\r?\n")


def find_string_line(text: str, key_line: int, wanted: int) -> int | None:
    """Return the 1-based line of `text` where line `wanted` of the string assigned on `key_line` starts.

    Returns None when `key_line` does not assign a string or the string has fewer lines: the caller
    then points at the key. Work is linear in the length of the string.
    """
    lines = text.split("\n")
    if not 1 <= key_line <= len(lines) or wanted < 1:
        return None
    start = sum(len(line) + 1 for line in lines[: key_line - 1])
    assign = _ASSIGN.match(text, start)
    if assign is None:
        return None
    pos = assign.end()
    delimiter = next((d for d in _DELIMITERS if text.startswith(d, pos)), None)
    if delimiter is None:
        return None
    pos += len(delimiter)
    multiline = len(delimiter) == 3
    basic = delimiter[0] == '"'
    raw_line, string_line = key_line, 1
    if multiline and (text.startswith("\n", pos) or text.startswith("\r\n", pos)):
        pos = text.index("\n", pos) + 1  # TOML trims a newline right after the opening quotes
        raw_line += 1
    end = len(text)
    while string_line < wanted and pos < end:
        if text.startswith(delimiter, pos) or (not multiline and text[pos] == "\n"):
            return None
        char = text[pos]
        if char == "\\" and basic:
            following = text[pos + 1 : pos + 2]
            if following == "n":
                string_line += 1  # an escaped newline: the next template line starts on this file line
                pos += 2
                continue
            if multiline and _LINE_END.match(text, pos + 1):
                # A line-ending backslash: the string goes on after the following whitespace and newlines.
                pos += 1
                while pos < end and text[pos] in " \t\r\n":
                    raw_line += text[pos] == "\n"
                    pos += 1
                continue
            pos += 2
            continue
        if char == "\n":
            raw_line += 1
            string_line += 1
        pos += 1
    return raw_line if string_line == wanted else None
