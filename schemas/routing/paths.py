"""Request paths (c): the normalisation hapi applies before matching, and percent-decoding of params.

Section letters refer to the parts of the routing rules that README's "Routes" section summarises.
"""

from __future__ import annotations

import re

from epctl.schemas.routing.syntax import UNRESERVED, Route

# (c) step 2: uppercase every `%xx`, then decode the unreserved ones. One substitution through a table
# does both: a decoded character is never `%`, so no new escape can appear.
_ESCAPE_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_HEX = "0123456789abcdefABCDEF"
_NORMALIZED_ESCAPES = {
    f"%{hi}{lo}": (chr(int(hi + lo, 16)) if chr(int(hi + lo, 16)) in UNRESERVED else f"%{hi}{lo}".upper())
    for hi in _HEX
    for lo in _HEX
}

# (c) params: strict UTF-8 percent-decoding (hapi's `decode`); a `%` not followed by two hex digits fails.
_BAD_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE_RUN_RE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def normalize_path(raw: str) -> str:
    """Return the request path as hapi routes it (c, steps 1-3).

    Cuts `?query` and `#fragment`, uppercases `%xx` and decodes escaped unreserved characters, resolves
    `.` and `..` segments. No trailing-slash stripping, no case folding. '' (an empty PATH_INFO) is '/'.
    """
    if "?" in raw:
        raw = raw.split("?", 1)[0]
    if "#" in raw:
        raw = raw.split("#", 1)[0]
    if not raw:
        return "/"
    if "%" in raw:
        raw = _ESCAPE_RE.sub(_normalize_escape, raw)
    if "/." in raw:
        raw = _resolve_dots(raw)
    return raw


def _normalize_escape(escape: re.Match[str]) -> str:
    return _NORMALIZED_ESCAPES[escape.group()]


def _resolve_dots(path: str) -> str:
    # hapi `Router#normalize`: '..' drops the previous segment (even the leading ''), a final '.' or '..'
    # leaves a trailing slash, and a leading slash lost to '..' comes back ('/..' -> '/').
    written = path.split("/")
    kept: list[str] = []
    for segment in written:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if written[-1] in (".", ".."):
        kept.append("")
    resolved = "/".join(kept)
    if not resolved.startswith("/") and path.startswith("/"):
        resolved = "/" + resolved
    return resolved


def decode_param(raw: str) -> str | None:
    """Return `raw` percent-decoded as strict UTF-8, or None when it is not valid (-> 400).

    Like JavaScript's `decodeURIComponent`: `+` stays `+`, `%2F` gives '/', `%00` NUL; a lone `%`,
    `%zz`, a truncated or overlong sequence or an encoded surrogate fails.
    """
    if "%" not in raw:
        return raw
    if _BAD_ESCAPE_RE.search(raw):
        return None
    try:
        return _ESCAPE_RUN_RE.sub(_decode_run, raw)
    except UnicodeDecodeError:
        return None


def _decode_run(run: re.Match[str]) -> str:
    return bytes.fromhex(run.group().replace("%", "")).decode("utf-8")


def decode_values(route: Route, values: list[str]) -> dict[str, str] | None:
    """Return the params of `route` from its raw captured `values` (one per name in `route.captures`,
    fewer when a last `{p?}` or `{p*}` is absent), or None when one is not valid percent-encoded UTF-8."""
    captures = route.captures
    # zip stops at the shorter: an absent last `{p?}` or `{p*}` has no value, so its key stays absent.
    if captures is route.params and "%" not in "".join(values):
        # The common case: one value per name (no `{p*N}`), and no escape to decode.
        return dict(zip(captures, values, strict=False))
    params: dict[str, str] = {}
    for name, raw in zip(captures, values, strict=False):
        value = decode_param(raw)
        if value is None:
            return None
        # `{p*N}` values are decoded one by one, then joined with '/' (hapi `_lookup`).
        params[name] = params[name] + "/" + value if name in params else value
    return params
