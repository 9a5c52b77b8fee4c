"""The `static/` folder: CSS, JavaScript and images, read byte for byte and frozen into versions.

A static file is an `Asset`: its bytes, the hash that names its content in URLs and ETags, and when
it last changed. Develop reads them from the folder; a version holds them in two tables, text files
as reviewable strings under `[static]` and every other file base64-encoded under `[static_base64]`,
so a git diff of a version shows a CSS change line by line and a version still restores an image
byte for byte.

Which files are assets: a file of `static/` whose suffix ASSET_SUFFIXES lists (what a version may
own and `restore` may write there). Dotfiles and dot-folders (`.DS_Store`, `.env`,
`.git/`) are never read, served nor frozen; a symlinked folder is not followed; a symlinked file is
read only when it stays inside the project, like every project file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

STATIC_FOLDER = "static"
STATIC_TEXT_KEY = "static"  # the version table of text assets: path -> text
STATIC_BINARY_KEY = "static_base64"  # the version table of other assets: path -> base64 text
DEFAULT_STATIC_PREFIX = "/static/"
# The methods static files answer; any other is 405 with this `Allow`.
STATIC_METHODS = ("GET", "HEAD")
# Hex digits of the content's sha256 in `?v=` and the ETag: 64 bits, collisions out of reach for a site.
HASH_LENGTH = 16
BASE64_LINE = 76  # characters in a line of `base64.encodebytes` (which fixes it)
# Suffixes frozen as text when the file is UTF-8 without a carriage return (a TOML string holds such
# text exactly); any other file, or one of these that is not such text, is frozen base64-encoded.
TEXT_SUFFIXES = frozenset(
    {".css", ".js", ".mjs", ".map", ".json", ".txt", ".xml", ".svg", ".html", ".md", ".csv", ".webmanifest"}
)

# The files `static/` serves, by suffix: what a version may own and `restore` may write there.
ASSET_SUFFIXES = TEXT_SUFFIXES | frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".ico", ".woff", ".woff2", ".ttf", ".otf", ".pdf"}
)


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file: its bytes, the hash of its content, and when it last changed (seconds since
    the epoch: the file's mtime in develop, the version's creation time in a frozen version)."""

    data: bytes
    hash: str
    modified: float | None = None


def make_asset(data: bytes, modified: float | None = None) -> Asset:
    """Return the asset of `data`, its content hash computed once."""
    return Asset(data, hashlib.sha256(data).hexdigest()[:HASH_LENGTH], modified)


def asset_name(path: str) -> str:
    """Return the name an asset is asked for by (`app.css` for `static/app.css`)."""
    return path.removeprefix(STATIC_FOLDER + "/")


def asset_path(name: str) -> str:
    """Return the project path of the asset named `name` (`static/app.css` for `app.css`)."""
    return f"{STATIC_FOLDER}/{name}"


def is_text(path: str, data: bytes) -> bool:
    """Return whether a version holds asset `path` as text: a text suffix, UTF-8, no carriage return."""
    if PurePosixPath(path).suffix.lower() not in TEXT_SUFFIXES or b"\r" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def frozen_size(path: str, data: bytes) -> int:
    """Return the bytes asset `path` takes in a version file: its UTF-8 text, or its base64 lines (4
    characters for every 3 bytes, a newline after every 76). TOML quoting adds a little more."""
    if is_text(path, data):
        return len(data)
    encoded = 4 * -(-len(data) // 3)
    return encoded + -(-encoded // BASE64_LINE)


def freeze_assets(assets: Mapping[str, Asset]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the `[static]` (text) and `[static_base64]` tables of a version, sorted by path."""
    texts: dict[str, str] = {}
    binaries: dict[str, str] = {}
    for path, asset in sorted(assets.items()):
        if is_text(path, asset.data):
            texts[path] = asset.data.decode("utf-8")
        else:
            # Lines of 76 characters: a version stays a text file a reviewer's diff can show.
            binaries[path] = base64.encodebytes(asset.data).decode("ascii")
    return texts, binaries


def decode_base64(text: str) -> bytes:
    """Return the bytes of a `[static_base64]` value; raise ValueError when it is not base64."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as err:
        raise ValueError(f"not base64 text ({err})") from None
