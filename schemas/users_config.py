"""The `[users]` table of `epctl.toml`: where experience users live and how sign-in is limited.

Users are not part of a version (README "Users"): this table only says which database holds them,
how long a session lasts and when failed sign-ins lock an account. The database URL itself never
lives in a file; `database_env` names the environment variable that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from epctl.schemas.models import Table
from epctl.schemas.problems import EpctlError

# The same lifetimes `epctl token --ttl` takes: a positive number and one unit.
_DURATION = re.compile(r"^([0-9]+)([smhd])$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The contract: at most 10 failed sign-ins in a row before an account locks.
MAX_LOCKOUT_THRESHOLD = 10
# A lock longer than a day is a denial of service an attacker can renew forever; an admin can
# always unlock sooner (`epctl users set EMAIL --unlock`).
MAX_LOCKOUT_SECONDS = 86_400


class UsersConfig(Table):
    """`[users]`: present (even empty) turns experience users on for every version of the project."""

    database_env: str = Field(
        default="EPCTL_DATABASE_URL",
        description="The environment variable holding a PostgreSQL URL; unset: SQLite under .epctl/.",
    )
    session_ttl: str = Field(default="12h", description="How long a sign-in lasts: 45m, 12h, 7d.")
    lockout_threshold: int = Field(
        default=MAX_LOCKOUT_THRESHOLD, description="Failed sign-ins in a row that lock an account (1-10)."
    )
    lockout_seconds: int = Field(default=900, description="How long a locked account stays locked.")

    @field_validator("database_env")
    @classmethod
    def check_database_env(cls, value: str) -> str:
        if "://" in value:
            # Never echo it: a URL here may carry a password, and errors end up in CI logs.
            raise PydanticCustomError(
                "invalid-value",
                '"database_env" holds a URL; put the URL in an environment variable and name that '
                'variable here (e.g. database_env = "EPCTL_DATABASE_URL"): a URL never goes in a file',
            )
        if not _ENV_NAME.fullmatch(value):
            raise PydanticCustomError(
                "invalid-value",
                '"database_env" must name an environment variable, such as "EPCTL_DATABASE_URL", '
                'not "{value}"',
                {"value": value},
            )
        return value

    @field_validator("session_ttl")
    @classmethod
    def check_session_ttl(cls, value: str) -> str:
        found = _DURATION.fullmatch(value)
        if found is None or int(found.group(1)) == 0:
            raise PydanticCustomError(
                "invalid-value",
                '"session_ttl" must be a positive number followed by s, m, h or d (e.g. "12h"), '
                'not "{value}"',
                {"value": value},
            )
        return value

    @field_validator("lockout_threshold")
    @classmethod
    def check_lockout_threshold(cls, value: int) -> int:
        if not 1 <= value <= MAX_LOCKOUT_THRESHOLD:
            raise PydanticCustomError(
                "invalid-value",
                '"lockout_threshold" must be from 1 to {most} failed sign-ins in a row, not {value}',
                {"most": MAX_LOCKOUT_THRESHOLD, "value": value},
            )
        return value

    @field_validator("lockout_seconds")
    @classmethod
    def check_lockout_seconds(cls, value: int) -> int:
        if not 1 <= value <= MAX_LOCKOUT_SECONDS:
            raise PydanticCustomError(
                "invalid-value",
                '"lockout_seconds" must be from 1 to {most} (a day), not {value}',
                {"most": MAX_LOCKOUT_SECONDS, "value": value},
            )
        return value


class UsersConfigError(EpctlError):
    """A `[users]` table that is missing or invalid, for commands that need experience users."""


def read_users_config(config: Mapping[str, Any], file: str = "epctl.toml") -> UsersConfig:
    """Return the `[users]` table of a parsed `epctl.toml`.

    Raises UsersConfigError when the file has no `[users]` table (users are off) or when the table
    is invalid, naming every bad key. This reads one table on its own, so user commands keep working
    while the project's endpoints or pages have problems.
    """
    table = config.get("users")
    if table is None:
        raise UsersConfigError(
            f"{file} has no [users] table, so this project has no experience users; "
            "add a line `[users]` to it to turn them on"
        )
    try:
        return UsersConfig.model_validate(table)
    except ValidationError as err:
        raise UsersConfigError(
            "; ".join(_describe_error(error, file) for error in err.errors(include_url=False))
        ) from None


def _describe_error(error: Any, file: str) -> str:
    kind, name = error["type"], ".".join(str(part) for part in error["loc"])
    if kind == "model_type":
        return f"{file}: [users] must be a table"
    if kind == "extra_forbidden":
        message = f'unknown key "{name}"; valid keys: {", ".join(UsersConfig.model_fields)}'
    elif kind == "invalid-value":  # our own messages already name the key
        message = error["msg"]
    elif kind.endswith("_type"):
        expected = error["msg"].removeprefix("Input should be ").removeprefix("a valid ").rstrip(".")
        message = f'"{name}" must be {"an" if expected[0] in "aeiou" else "a"} {expected}'
    else:
        message = f'"{name}": {error["msg"]}'
    return f"{file} [users]: {message}"
