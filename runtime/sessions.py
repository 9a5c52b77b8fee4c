"""Sessions of experience users: the store per worker process, session tokens, revocation and CSRF.

Built once per app when `epctl.toml` has a `[users]` table (README "Users"). A session token is the
project's JWT with `sub` = the account id, `groups` read from the database at sign-in, `iss` from
`[auth]` and `gen`, the account's session generation. Every request that presents one is checked
against `UserStore.session_generation` through an in-process cache of at most
`GENERATION_CACHE_SECONDS`: disabling or removing an account, or changing its password or groups,
ends its sessions on every worker and host within that delay.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from epctl.runtime.answers import cookie_header
from epctl.runtime.tokens import ALGORITHM, parse_ttl
from epctl.schemas.users_config import UsersConfig

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from epctl.runtime.users import User, UserStore

__all__ = [
    "GENERATION_CACHE_SECONDS",
    "SESSION_COOKIE",
    "Sessions",
]

log = logging.getLogger("epctl.runtime")

SESSION_COOKIE = "authorization"
# How stale a worker's idea of an account's session generation may be: the documented revocation
# delay (README "Users": at most 10 seconds). One query per signed-in account per period per worker.
GENERATION_CACHE_SECONDS = 5.0
# Accounts whose generation one worker remembers; past this the cache starts over, so no sequence of
# tokens can grow a worker's memory without bound.
GENERATION_CACHE_SIZE = 10_000


class Sessions:
    """What an app with `[users]` needs to sign users in and to check their sessions.

    The store is opened on first use in each process (gunicorn forks workers after the app is
    built; a database connection must never cross a fork).
    """

    def __init__(
        self,
        project_dir: Path,
        config: UsersConfig,
        *,
        secret: str,
        issuer: str | None,
        cookie_path: str,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.project_dir = project_dir
        self.config = config
        self.secret = secret
        self.issuer = issuer
        self.cookie_path = cookie_path
        self.ttl = parse_ttl(config.session_ttl)
        self.environ = environ
        self.clock = clock
        self._store: UserStore | None = None
        self._pid = 0
        self._lock = threading.Lock()
        # account id -> (generation or None for a disabled/removed account, when the entry expires)
        self._generations: dict[str, tuple[int | None, float]] = {}

    # -- the store ------------------------------------------------------------------------------
    @property
    def store(self) -> UserStore:
        """The users store of this process, opened on first use after a fork.

        Raises what `open_user_store` raises (an unreachable or unmigrated database).
        """
        store = self._store
        if store is not None and self._pid == os.getpid():
            return store
        with self._lock:
            if self._store is None or self._pid != os.getpid():
                from epctl.runtime.users import open_user_store  # SQLAlchemy loads only when used

                # A store inherited across a fork is dropped, not closed: its connections belong to
                # the parent.
                self._store = open_user_store(self.project_dir, self.config, environ=self.environ)
                self._pid = os.getpid()
                self._generations = {}
            return self._store

    def close(self) -> None:
        """Close this process's store, if it opened one."""
        if self._store is not None and self._pid == os.getpid():
            self._store.close()
        self._store = None

    # -- tokens ---------------------------------------------------------------------------------
    def mint(self, user: User | str, ttl: int | None = None) -> tuple[str, int]:
        """Return a session token for `user` (an account or its id) and its lifetime in seconds.

        The account is read again, so its groups and generation are the database's now. Raises
        LookupError when the account does not exist, is disabled, or `ttl` is not positive.
        """
        user_id = user if isinstance(user, str) else user.id
        current = self.store.get(user_id)
        if current is None or not current.enabled:
            raise LookupError(f"no enabled user with id {user_id!r} to sign in")
        lifetime = self.ttl if ttl is None else int(ttl)
        if lifetime <= 0:
            raise LookupError(f"a session lifetime must be a positive number of seconds, not {ttl!r}")
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": current.id,
            "groups": list(current.groups),
            "gen": current.generation,
            "iat": now,
            "exp": now + lifetime,
        }
        if self.issuer is not None:
            claims["iss"] = self.issuer
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), lifetime

    def token_for(self, user: User | str, ttl: int | None = None) -> str:
        """Return a session token for `user`, for APIs that hand it back (see `mint`)."""
        return self.mint(user, ttl)[0]

    def sign_in_cookie(self, user: User | str, ttl: int | None, environ: WSGIEnvironment) -> tuple[str, str]:
        """Return the `Set-Cookie` header that signs `user` in (see `mint` for what it raises)."""
        token, lifetime = self.mint(user, ttl)
        return cookie_header(
            SESSION_COOKIE,
            token,
            max_age=lifetime,
            path=self.cookie_path,
            secure=environ.get("wsgi.url_scheme") == "https",
            httponly=True,
            samesite="Lax",
        )

    def sign_out_cookie(self, environ: WSGIEnvironment) -> tuple[str, str]:
        """Return the `Set-Cookie` header that removes the session cookie."""
        return cookie_header(
            SESSION_COOKIE,
            "",
            max_age=0,
            expires=0,
            path=self.cookie_path,
            secure=environ.get("wsgi.url_scheme") == "https",
            httponly=True,
            samesite="Lax",
        )

    # -- revocation -----------------------------------------------------------------------------
    def is_current(self, claims: dict[str, Any]) -> bool:
        """Return whether a valid token's session may go on.

        A token with `gen` must name an enabled account whose generation is still `gen`. A token
        without `gen` (minted by `epctl token`) is a service token: accepted when its `sub` is no
        account id, refused when it is one, since it could never be revoked. A database that
        cannot be reached refuses (logged): a session is never accepted unchecked.
        """
        sub = claims.get("sub")
        generation = claims.get("gen")
        if not isinstance(sub, str):
            return False
        if generation is None:
            from epctl.runtime.users.inputs import is_user_id

            return not is_user_id(sub)
        if not isinstance(generation, int) or isinstance(generation, bool):
            return False
        now = self.clock()
        cached = self._generations.get(sub)
        if cached is None or cached[1] <= now:
            try:
                current = self.store.session_generation(sub)
            except Exception:
                log.exception("checking a session against the users database failed; refusing it")
                return False
            if len(self._generations) >= GENERATION_CACHE_SIZE:
                self._generations = {}
            cached = (current, now + GENERATION_CACHE_SECONDS)
            self._generations[sub] = cached
        return cached[0] == generation
