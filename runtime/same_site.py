"""Where a request comes from: the CSRF check of README "Users" (the one Django and Rails make).

A browser sends the session cookie with any request to the site, whichever page made it; `Origin`
(else `Referer`) tells whether the site itself did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["is_same_site"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def is_same_site(environ: WSGIEnvironment, allowed_origins: frozenset[str]) -> bool:
    """Return whether a state-changing request comes from the serving host or an allowed origin.

    The `Origin` header decides, else the scheme and host of `Referer`; a request with neither (or
    with `Origin: null`) is not same-site. `*` in `allowed_origins` allows no origin here: it opens
    CORS reads, never cookie-authenticated writes.
    """
    # Only the scheme, host and port of a Referer count, so the page's path changes nothing.
    sent = _normal_origin(str(environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER") or ""))
    if sent is None:
        return False
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    if sent == _normal_origin(f"{scheme}://{host}"):
        return True
    return any(sent == _normal_origin(allowed) for allowed in allowed_origins if allowed != "*")


def _normal_origin(origin: str) -> str | None:
    """Return `scheme://host:port` of an origin or URL, in lowercase with the port made explicit, or
    None when it names no http(s) origin (`null`, empty, malformed)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port or _DEFAULT_PORTS[parts.scheme]}"
