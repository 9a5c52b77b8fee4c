"""What the `epctl users` commands share: the users config, the store, password input, formatting.

Kept apart from the commands so that the CLI starts without SQLAlchemy, argon2 or rich.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import tomli
import typer

from epctl.cli.app import get_state
from epctl.runtime.users import (
    UnknownUserError,
    User,
    UsersError,
    UserStore,
    open_user_store,
)
from epctl.schemas.loader import CONFIG_FILE
from epctl.schemas.users_config import UsersConfig, UsersConfigError, read_users_config


class PasswordInputError(UsersError):
    """No usable password where one was asked for."""


# -- shared -----------------------------------------------------------------------------------------
def load_users_config(project_dir: Path) -> UsersConfig:
    """Return the `[users]` table of the project's `epctl.toml`; raises UsersConfigError."""
    path = project_dir / CONFIG_FILE
    try:
        document = tomli.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise UsersConfigError(f"cannot read {path}: {err}") from None
    except tomli.TOMLDecodeError as err:
        raise UsersConfigError(
            f"{CONFIG_FILE} is not valid TOML: {err}; `epctl validate` shows more"
        ) from None
    return read_users_config(document, CONFIG_FILE)


def open_store(ctx: typer.Context) -> UserStore:
    """Return the project's user store (SQLite is migrated on first use; PostgreSQL never is)."""
    project_dir = get_state(ctx).project_dir
    return open_user_store(project_dir, load_users_config(project_dir))


def find_user(store: UserStore, email: str) -> User:
    """Return the account with `email`; raises UnknownUserError saying how to see every account."""
    user = store.find(email)
    if user is None:
        raise UnknownUserError(f"no user with email {email}; `epctl users list` shows every user")
    return user


def read_password(from_stdin: bool, *, required: bool) -> str | None:
    """Return a password from stdin (`--password-stdin`: one line, its newline dropped, like
    `docker login`) or from a hidden prompt asked twice when stdin is a terminal; None when neither
    and the password is optional. Raises PasswordInputError or typer.BadParameter."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise PasswordInputError(
                "no password on stdin: pipe one line in, e.g. "
                "`printf '%s\\n' \"$PASSWORD\" | epctl users passwd EMAIL --password-stdin`"
            )
        return password
    if sys.stdin.isatty():
        entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
        return entered
    if required:
        raise typer.BadParameter(
            "stdin is not a terminal, so there is nobody to prompt: pipe the password in with "
            "--password-stdin",
            param_hint="--password-stdin",
        )
    return None


def describe_status(user: User) -> str:
    flags = [] if user.enabled else ["disabled"]
    if user.is_locked():
        flags.append("locked")
    if not user.has_password:
        flags.append("no password")
    return ", ".join(flags) or "active"


def format_time(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds").replace("+00:00", "Z") if moment else ""
