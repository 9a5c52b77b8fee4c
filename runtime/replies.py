"""Helpers that workflow handlers return: a page with data, a redirect, or a body with cookies.

User handlers import this module (`from epctl.runtime.replies import page, reply`), so it stays tiny
and imports nothing but the standard library: the runtime turns these values into responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BodyReply", "Cookies", "PageReply", "RedirectReply", "page", "redirect", "reply"]

# {name: value} or {name: {"value": ..., "max_age": ..., "httponly": ..., "secure": ..., "samesite": ...,
# "path": ..., "domain": ..., "expires": ...}}
Cookies = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PageReply:
    """Render the page `name` with `data` as the template's `data`."""

    name: str
    data: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Cookies = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RedirectReply:
    """Redirect to `to`, taken as is (a workflow computes its own URL; it is not a template)."""

    to: str
    status: int = 302
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Cookies = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BodyReply:
    """A body as a workflow would return it (dict/list as JSON, str as HTML), with headers and cookies."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Cookies = field(default_factory=dict)


def page(
    name: str,
    data: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    cookies: Cookies | None = None,
) -> PageReply:
    """Return a reply that renders page `name` with `data`; a page that does not exist answers 500."""
    return PageReply(name, data or {}, status, headers or {}, cookies or {})


def redirect(
    to: str,
    status: int = 302,
    *,
    headers: Mapping[str, str] | None = None,
    cookies: Cookies | None = None,
) -> RedirectReply:
    """Return a redirect to `to` (default 302); a `to` holding CR or LF answers 500 instead."""
    return RedirectReply(to, status, headers or {}, cookies or {})


def reply(
    body: Any,
    status: int = 200,
    *,
    headers: Mapping[str, str] | None = None,
    cookies: Cookies | None = None,
) -> BodyReply:
    """Return a reply with `body`: a dict or list is sent as JSON, a str as is (HTML unless headers
    set another Content-Type)."""
    return BodyReply(body, status, headers or {}, cookies or {})
