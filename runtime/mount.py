"""The environment `root` an app is mounted at, applied to what it reads and what it sends back.

Inside the app every path is the app's own: routes, `request.path`, redirect targets and cookie
paths are written as if the app were served at `/`. On the way in the root is taken off the request
path (after `.` and `..` segments are resolved, so `/fleet/../admin` is outside `/fleet`); on the way
out it is put on every site-absolute `Location` and cookie `Path`. `url("/devices")` (templates) and
`request.url("/devices")` (workflows) give the site path of an app path, for links in bodies.
"""

from __future__ import annotations

import re

from epctl.schemas.routing.paths import normalize_path

# A run of slashes and backslashes at the start of a target: browsers read `//host` and `/\host` as
# another site, so a site-relative target keeps exactly one slash.
_LEADING_SLASHES = re.compile(r"^[/\\]+")


def clean_root(root: str) -> str:
    """Return `root` as the app keeps it: "" for no prefix (also for "/"), else "/a/b" without a
    trailing slash."""
    inner = root.strip("/")
    return "/" + inner if inner else ""


def strip_root(path: str, root: str) -> str | None:
    """Return the raw request `path` without the prefix `root`, or None when it is outside it.

    Dot segments are resolved first, as the router resolves them, so a path that climbs out of the
    root with `..` (also written `%2E%2E`) is outside it.
    """
    if not root:
        return path
    if "." in path or "%" in path:
        path = normalize_path(path)
    if path == root:
        return "/"
    if path.startswith(root + "/"):
        return path[len(root) :]
    return None


def site_path(path: str, root: str) -> str:
    """Return the site path of the app path `path`: the root put in front of a site-absolute path
    (`/devices` -> `/fleet/devices`); any other URL (`https://...`, `next`, `?q=1`) as it is.

    Also what a redirect target is sent as: a site-relative target stays on the site (a leading `//`
    or `/\\` becomes one `/`) and gets the root; a target with a scheme, or relative to the request,
    is kept."""
    if not path.startswith(("/", "\\")):
        return path
    return root + "/" + _LEADING_SLASHES.sub("", path)


def cookie_path(path: str, root: str) -> str:
    """Return a cookie's `Path` as it is sent: `/` is the root itself (`/fleet`, which also matches
    `/fleet/...`), another site-absolute path gets the root in front."""
    if path.strip("/") == "":
        return root or "/"
    return site_path(path, root)
