"""Helpers that workflow handlers return: a page with data, a redirect, or a body with cookies.

User handlers import this module (`from epctl.runtime.replies import page, reply, sign_in`), so it
stays tiny and imports nothing but the standard library: the runtime turns these values into
responses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BodyReply",
    "Cookies",
    "PageReply",
    "RedirectReply",
    "SignInReply",
    "SignOutReply",
    "page",
    "redirect",
    "reply",
    "sign_in",
    "sign_out",
    "token_for",
]

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


# -- experience users (README "Users") -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SignInReply:
    """Sign `user` in (a session cookie) and redirect to `to` with 303."""

    user: Any  # an account of `request.users`, or its id
    to: str = "/"
    ttl: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Cookies = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignOutReply:
    """Remove the session cookie and redirect to `to` with 303."""

    to: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Cookies = field(default_factory=dict)


# Set by the app around the workflows of a project with [users]: mints a session token for a user.
CURRENT_SIGNER: ContextVar[Callable[[Any, int | None], str] | None] = ContextVar("epctl_signer", default=None)


def sign_in(user: Any, to: str = "/", ttl: int | None = None) -> SignInReply:
    """Return a 303 redirect to `to` that signs `user` (from `request.users`) in: it sets the
    `authorization` cookie (HttpOnly, SameSite=Lax, Secure over https) holding a session token that
    lasts `ttl` seconds, default `[users] session_ttl`. A user who cannot sign in answers 500."""
    return SignInReply(user, to, ttl)


def sign_out(to: str = "/") -> SignOutReply:
    """Return a 303 redirect to `to` that removes the session cookie."""
    return SignOutReply(to)


def token_for(user: Any, ttl: int | None = None) -> str:
    """Return a session token for `user`, for an API to hand back (then sent as `Session` or
    `Authorization: Bearer`). Raises RuntimeError outside a workflow of a project with `[users]`,
    LookupError for a user who cannot sign in."""
    signer = CURRENT_SIGNER.get()
    if signer is None:
        raise RuntimeError("token_for() works only inside a workflow of a project with a [users] table")
    return signer(user, ttl)
