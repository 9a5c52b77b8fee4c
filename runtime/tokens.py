"""User tokens: JWT HS256 signed with the project secret, which only ever comes from the environment.

Minting (`epctl token`) and verifying (the runtime) read the secret through `read_secret`, so both
always agree on where it lives and what a missing one means.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import jwt

from epctl.schemas.problems import EpctlError
from epctl.schemas.project import Project

# Only HS256 is ever accepted: naming the algorithm explicitly refuses `alg: none` and any token that
# claims another algorithm, whatever its header says.
ALGORITHM = "HS256"
# HS256 signs with a SHA-256 HMAC: a key shorter than the hash's 32 bytes weakens every token.
MIN_SECRET_BYTES = 32
MAKE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
_TTL_RE = re.compile(r"^([0-9]+)([smhd])$")
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# Secrets made up for one `epctl serve` of develop on a loopback address (`use_development_secret`),
# by the variable they stand in for. Never written anywhere: sessions end when the process does.
_DEVELOPMENT_SECRETS: dict[str, str] = {}


class MissingSecretError(EpctlError):
    """The environment variable that holds the token secret is unset or empty."""


class WeakSecretError(EpctlError):
    """A token secret too short to sign HS256 tokens safely. Not a MissingSecretError: a project that
    could run without a secret must still not run with a weak one."""


class InvalidTtlError(EpctlError):
    """A token lifetime that is not `<number><s|m|h|d>`."""


def read_secret(project: Project) -> str:
    """Return the token secret from the variable `project.auth.secret_env` names.

    Raises MissingSecretError naming the variable when it is unset or empty, WeakSecretError when it
    holds fewer than MIN_SECRET_BYTES bytes (HS256 wants a key at least as long as its hash).
    """
    name = project.auth.secret_env
    secret = os.environ.get(name, "") or _DEVELOPMENT_SECRETS.get(name, "")
    if not secret:
        raise MissingSecretError(
            f"the environment variable {name} is not set: it holds the secret that signs user tokens "
            f'([auth] secret_env in epctl.toml); set it, e.g. `export {name}="$({MAKE_SECRET})"`'
        )
    size = len(secret.encode("utf-8"))
    if size < MIN_SECRET_BYTES:
        raise WeakSecretError(
            f"the secret in {name} is {size} bytes; user tokens need a secret of at least "
            f"{MIN_SECRET_BYTES} random bytes. Make one with `{MAKE_SECRET}` and set {name} to it "
            "(a variable such as HOME or USER never holds a secret)"
        )
    return secret


@contextmanager
def development_secret(name: str) -> Iterator[None]:
    """Within the block, `read_secret` uses a random secret of this process while variable `name` is
    unset; it is forgotten when the block ends."""
    _DEVELOPMENT_SECRETS[name] = secrets.token_urlsafe(32)
    try:
        yield
    finally:
        _DEVELOPMENT_SECRETS.pop(name, None)


def parse_ttl(text: str) -> int:
    """Return the seconds of a lifetime such as "45s", "30m", "1h" or "2d".

    Raises InvalidTtlError for anything else, including a zero lifetime.
    """
    found = _TTL_RE.fullmatch(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise InvalidTtlError(
            f'invalid token lifetime "{text}": use a positive number followed by s, m, h or d '
            '(e.g. "45s", "30m", "1h", "2d")'
        )
    return int(found.group(1)) * _TTL_UNITS[found.group(2)]


class InvalidSubjectError(EpctlError):
    """A token would name nobody: `sub` empty or only spaces."""


def mint_token(project: Project, sub: str, groups: Iterable[str], ttl_seconds: int) -> str:
    """Return a signed user token with claims `sub`, `groups`, `iat`, `exp` (and `iss` when the
    project sets an issuer). Raises InvalidSubjectError for an empty `sub`, MissingSecretError when
    the secret variable is unset."""
    if not sub.strip():
        # Worded for every caller (`epctl token`, a request test's `user.sub`), naming no flag or key.
        raise InvalidSubjectError(
            f'a token names its user: its sub must be a user id such as "ada", not {sub!r}'
        )
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "groups": list(groups), "iat": now, "exp": now + ttl_seconds}
    if project.auth.issuer is not None:
        claims["iss"] = project.auth.issuer
    return jwt.encode(claims, read_secret(project), algorithm=ALGORITHM)


def decode_token(token: str, secret: str, *, issuer: str | None) -> dict[str, Any] | None:
    """Return the claims of a valid token, or None when the token is forged, expired, malformed or
    from another issuer. `exp` and `sub` are required: a token that never expires or names nobody
    is not a user token."""
    required = ["exp", "sub", "iss"] if issuer is not None else ["exp", "sub"]
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=issuer, options={"require": required}
        )
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        return None  # a token naming nobody (`"sub": ""`) is no user
    groups = claims.get("groups")
    # Group checks iterate the claim: a string would match its letters, anything else is no groups.
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        claims["groups"] = []
    return claims
