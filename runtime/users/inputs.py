"""What the store accepts as an email, a display name, a group or a password, checked in one place.

The CLI, CSV import and workflows all go through these, so a rule is stated once and an account
written one way can always be read back another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from epctl.runtime.users.errors import InvalidUserDataError

MAX_EMAIL = 254  # RFC 5321's limit on a forward path
MAX_NAME = 200
MIN_PASSWORD = 8  # NIST SP 800-63B's floor for passwords a person chooses
# argon2 reads the whole password: a cap keeps the work of one sign-in attempt bounded.
MAX_PASSWORD = 1024
MAX_GROUPS = 100
GROUP_RULE = "1-128 characters of A-Z a-z 0-9 . _ -"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_GROUP = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_USER_ID = re.compile(r"^[0-9a-f]{32}$")


def email_key(email: str) -> str:
    """Return the form of `email` that is unique among accounts: trimmed and lowercased."""
    return email.strip().lower()


def lookup_key(email: str) -> str | None:
    """Return the key to look `email` up by, or None when no account can have it (empty, too long,
    control characters such as NUL, which PostgreSQL refuses in text), so any input is safe to try."""
    key = email_key(email)
    return key if 0 < len(key) <= MAX_EMAIL and not _CONTROL.search(key) else None


def is_user_id(text: str) -> bool:
    """Return whether `text` has the form of an account id (32 lowercase hex digits, a uuid4)."""
    return _USER_ID.fullmatch(text) is not None


def check_email(email: str) -> str:
    """Return `email` trimmed; raises InvalidUserDataError unless it looks like `name@domain`."""
    email = email.strip()
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email) or _CONTROL.search(email):
        shown = email if len(email) <= 80 and not _CONTROL.search(email) else f"{email[:40]!r}..."
        raise InvalidUserDataError(
            f'"{shown}" is not an email address: use name@domain, at most {MAX_EMAIL} characters'
        )
    return email


def check_name(name: str) -> str:
    """Return a display name trimmed; raises InvalidUserDataError for control characters or length."""
    name = name.strip()
    if len(name) > MAX_NAME:
        raise InvalidUserDataError(f"a display name has at most {MAX_NAME} characters, not {len(name)}")
    if _CONTROL.search(name):
        raise InvalidUserDataError("a display name cannot hold control characters such as a line break")
    return name


def check_groups(groups: Iterable[str]) -> tuple[str, ...]:
    """Return group names sorted without repeats; raises InvalidUserDataError naming a bad one."""
    unique = sorted({group.strip() for group in groups})
    for group in unique:
        if not _GROUP.fullmatch(group):
            shown = group if len(group) <= 80 and not _CONTROL.search(group) else f"{group[:40]!r}..."
            raise InvalidUserDataError(f'group "{shown}" is not a valid group name: use {GROUP_RULE}')
    if len(unique) > MAX_GROUPS:
        raise InvalidUserDataError(f"at most {MAX_GROUPS} groups at once, not {len(unique)}")
    return tuple(unique)


def check_password(password: str) -> str:
    """Return `password` unchanged; raises InvalidUserDataError when it is too short or too long.

    The message never repeats the password.
    """
    if len(password) < MIN_PASSWORD:
        raise InvalidUserDataError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidUserDataError(f"a password has at most {MAX_PASSWORD} characters")
    return password
