"""Serving the files of `static/` under `[settings] static_prefix` (default `/static/`).

Everything a reply needs is computed once per app: content type, ETag (the content hash), Last-Modified
and the two Cache-Control values. A request only looks its name up. Names come from the version's own
table of assets, never from the file system, so a request cannot reach any other file whatever it
sends; paths with `..`, `.`, empty or dot-led segments, encoded slashes or backslashes are refused
before the lookup anyway, so they answer 404 the same way in develop and in a frozen version.

Caching: `static_url("app.css")` in a template gives `/static/app.css?v=<hash>`. A request naming the
current hash gets `Cache-Control: public, max-age=31536000, immutable` (a new content has a new URL);
any other request `no-cache`, so browsers revalidate with `If-None-Match` and get 304 while the file
is unchanged.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from urllib.parse import quote

from werkzeug.http import http_date, is_resource_modified, quote_etag
from werkzeug.security import safe_join
from werkzeug.utils import get_content_type

from epctl.runtime.answers import Answer, Headers, error_answer
from epctl.runtime.mount import site_path
from epctl.runtime.request import Request
from epctl.schemas.problems import EpctlError
from epctl.schemas.project import Project
from epctl.schemas.routing.paths import decode_param
from epctl.schemas.static_files import STATIC_FOLDER, STATIC_METHODS, Asset, asset_name

LONG_CACHE = "public, max-age=31536000, immutable"  # a year: the URL names the content
REVALIDATE = "no-cache"  # may be stored, but asked about (a 304 when unchanged) before each use
FALLBACK_TYPE = "application/octet-stream"
# Types Python's table lacks, or names differently across versions: one answer on every Python.
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".map": "application/json",
    ".md": "text/markdown",
    ".webp": "image/webp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
}
# Python's built-in table only: /etc/mime.types differs between machines, a version must not.
_MIME = mimetypes.MimeTypes()


class UnknownAssetError(EpctlError):
    """`static_url(name)` for a name no file of static/ has in this version."""


class ServedAsset:
    """One asset with the headers of its replies, computed once."""

    __slots__ = ("asset", "etag", "headers", "modified")

    def __init__(self, name: str, asset: Asset) -> None:
        self.asset = asset
        self.etag = quote_etag(asset.hash)
        self.headers: Headers = [("Content-Type", content_type_of(name)), ("ETag", self.etag)]
        # HTTP dates have whole seconds: If-Modified-Since compares against the date as it was sent.
        self.modified = None if asset.modified is None else datetime.fromtimestamp(int(asset.modified), UTC)
        if self.modified is not None:
            self.headers.append(("Last-Modified", http_date(self.modified)))


class StaticFiles:
    """The static files of one version, mounted at `prefix` below the app's `root`."""

    def __init__(self, project: Project, root: str) -> None:
        self.prefix = project.settings.static_prefix
        self.root = root
        named = ((asset_name(path), asset) for path, asset in project.static.items())
        self.assets = {name: ServedAsset(name, asset) for name, asset in named}

    def answer(self, request: Request, path: str) -> Answer | None:
        """Return the answer to `request` for the app path `path` (under the prefix), None when it names
        no static file (the caller answers its not-found reply)."""
        name = read_name(path[len(self.prefix) :])
        served = None if name is None else self.assets.get(name)
        if served is None:
            return None
        if request.method not in STATIC_METHODS:
            answer = error_answer(405, "Method not allowed")
            answer.headers.append(("Allow", ", ".join(STATIC_METHODS)))
            return answer
        fresh = request.query.get("v") == served.asset.hash
        headers = [*served.headers, ("Cache-Control", LONG_CACHE if fresh else REVALIDATE)]
        if not is_resource_modified(request.environ, etag=served.etag, last_modified=served.modified):
            return Answer(304, headers)
        return Answer(200, headers, served.asset.data)

    def url(self, name: str) -> str:
        """Return the site URL of asset `name` with its content hash: `/fleet/static/app.css?v=...`.

        Raises UnknownAssetError when static/ has no file of that name in this version.
        """
        served = self.assets.get(name)
        if served is None:
            raise UnknownAssetError(
                f'static_url("{name}"): this version has no file {STATIC_FOLDER}/{name}; '
                f"`epctl validate` lists every unknown asset a template names"
            )
        return site_path(self.prefix + quote(name), self.root) + "?v=" + served.asset.hash


def read_name(raw: str) -> str | None:
    """Return the asset name of the raw (percent-encoded) path below the prefix, None when it is not
    a plain relative path: an encoded slash or backslash, `..`, `.`, empty or dot-led segments."""
    lowered = raw.lower()
    if "%2f" in lowered or "%5c" in lowered:
        return None
    name = decode_param(raw)
    if not name or safe_join(STATIC_FOLDER, name) is None:
        return None
    if any(part in ("", ".", "..") or part.startswith(".") for part in name.split("/")):
        return None  # dotfiles are never assets; `..` and `.` never reach one
    return name


def content_type_of(name: str) -> str:
    """Return the Content-Type of asset `name`, with `charset=utf-8` for text types."""
    suffix = "." + name.rpartition(".")[2].lower()
    mimetype = _TYPES.get(suffix) or _MIME.guess_type("x" + suffix)[0] or FALLBACK_TYPE
    return get_content_type(mimetype, "utf-8")
