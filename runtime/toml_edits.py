"""Edits to a project's TOML files that keep everything else as written: comments, blank lines, order.

Tables are added by appending their text (rendered by tomlkit) and removed by cutting their lines;
values inside a table are changed through tomlkit. Every edit is checked by parsing the result: it
must be the original document with exactly that change, or the edit is refused (`EditError`) and the
file is left alone. So an unusual file never gets silently damaged; it gets a message instead.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli
import tomlkit

from epctl.schemas.problems import EpctlError

# A table header line: `[name]`, `[[name]]`, `[name.sub]`, with an optional comment after it.
_HEADER = re.compile(r"""^[ \t]*(\[\[?)[ \t]*([A-Za-z0-9_.\-"' ]+?)[ \t]*\]\]?[ \t]*(#.*)?$""")
_COMMENT_OR_BLANK = re.compile(r"^[ \t]*(#.*)?$")


class EditError(EpctlError):
    """A change epctl cannot make to a file without risking what else is in it."""


def _headers(lines: list[str]) -> list[tuple[int, str, bool]]:
    """Return (line index, table name, is array entry) of each header, skipping multi-line strings."""
    found = []
    open_quote = ""
    for index, line in enumerate(lines):
        if not open_quote:
            match = _HEADER.match(line)
            if match:
                name = ".".join(part.strip().strip("\"'") for part in match.group(2).split("."))
                found.append((index, name, match.group(1) == "[["))
        for quote in ('"""', "'''"):
            if (not open_quote or open_quote == quote) and line.count(quote) % 2 == 1:
                open_quote = "" if open_quote else quote
    return found


def _check(old: str, new: str, change: Callable[[dict[str, Any]], None], file: str) -> str:
    """Return `new` when it parses to `old`'s document with `change` applied; raise EditError."""
    expected = tomli.loads(old)
    change(expected)
    try:
        actual = tomli.loads(new)
    except tomli.TOMLDecodeError as err:
        raise EditError(
            f"{file}: the edit would not be valid TOML ({err}); make this change by hand"
        ) from None
    if actual != expected:
        raise EditError(
            f"{file}: the file is laid out in a way epctl cannot edit safely; make this change by hand"
        )
    return new


def render_table(kind: str, table: dict[str, Any]) -> str:
    """Return `[[kind]]` and the keys of `table` as TOML text, nested tables written inline the way
    the sample project writes them (`reply = { type = "page", page = "home" }`)."""

    def value(item: Any) -> str:
        if isinstance(item, dict):
            return "{ " + ", ".join(f"{key} = {value(inner)}" for key, inner in item.items()) + " }"
        return str(tomlkit.item(item).as_string())

    lines = [f"[[{kind}]]", *(f"{key} = {value(item)}" for key, item in table.items())]
    return "\n".join(lines) + "\n"


def append_table(text: str, kind: str, table: dict[str, Any], file: str) -> str:
    """Return `text` with one more `[[kind]]` table at its end, after a blank line."""
    body = text.rstrip("\n")
    new = (body + "\n\n" if body else "") + render_table(kind, table)

    def change(document: dict[str, Any]) -> None:
        document.setdefault(kind, []).append(table)

    return _check(text, new, change, file)


def remove_table(text: str, kind: str, index: int, file: str) -> str:
    """Return `text` without the `index`-th `[[kind]]` table (its sub-tables and the comment lines
    right above its header go too; comments separated from it by a blank line stay)."""
    lines = text.splitlines(keepends=True)
    headers = _headers([line.rstrip("\r\n") for line in lines])
    entries = [position for position, (_, name, array) in enumerate(headers) if array and name == kind]
    if index >= len(entries):
        raise EditError(
            f"{file}: no [[{kind}]] number {index + 1} (tables written inline are not edited); "
            "make this change by hand"
        )
    position = entries[index]
    start = headers[position][0]
    end = len(lines)
    for line_index, name, _ in headers[position + 1 :]:
        if not name.startswith(kind + "."):
            end = line_index
            break
    # Comment lines right above the next header describe that table: they stay.
    while end > start + 1 and _COMMENT_OR_BLANK.match(lines[end - 1]):
        end -= 1
    # Comment lines right above this header describe this table: they go.
    while start > 0 and lines[start - 1].strip().startswith("#"):
        start -= 1
    kept = lines[:start] + lines[end:]
    # One blank line where the table was, none at the end of the file.
    while start < len(kept) and start > 0 and not kept[start].strip() and not kept[start - 1].strip():
        del kept[start]
    new = "".join(kept).rstrip("\n") + "\n" if "".join(kept).strip() else ""

    def change(document: dict[str, Any]) -> None:
        del document[kind][index]
        if not document[kind]:
            del document[kind]

    return _check(text, new, change, file)


def remove_array_value(text: str, path: tuple[str | int, ...], value: str, file: str) -> str:
    """Return `text` with `value` taken out of the array at `path` (`("workflow", 2, "endpoints")`)."""
    document: Any = tomlkit.parse(text)
    array = document
    for part in path:
        array = array[part]
    while value in array:
        del array[array.index(value)]

    def change(expected: dict[str, Any]) -> None:
        target: Any = expected
        for part in path:
            target = target[part]
        target[:] = [item for item in target if item != value]

    return _check(text, tomlkit.dumps(document), change, file)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
