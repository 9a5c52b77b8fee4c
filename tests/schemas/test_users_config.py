"""The `[users]` table of epctl.toml: its defaults and the messages for every bad value."""

from __future__ import annotations

from typing import Any

import pytest

from epctl.schemas.users_config import UsersConfig, UsersConfigError, read_users_config


def test_an_empty_users_table_turns_users_on_with_the_documented_defaults() -> None:
    assert read_users_config({"users": {}}) == UsersConfig(
        database_env="EPCTL_DATABASE_URL", session_ttl="12h", lockout_threshold=10, lockout_seconds=900
    )


def test_without_a_users_table_users_are_off() -> None:
    with pytest.raises(UsersConfigError) as caught:
        read_users_config({"project": {"name": "farm"}})
    assert str(caught.value) == (
        "epctl.toml has no [users] table, so this project has no experience users; "
        "add a line `[users]` to it to turn them on"
    )


TTL_RULE = '"session_ttl" must be a positive number followed by s, m, h or d (e.g. "12h")'
KEYS = "database_env, session_ttl, lockout_threshold, lockout_seconds"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"session_ttl": "0h"}, f'{TTL_RULE}, not "0h"'),
        ({"session_ttl": "12 hours"}, f'{TTL_RULE}, not "12 hours"'),
        ({"lockout_threshold": 11}, '"lockout_threshold" must be from 1 to 10 failed sign-ins in a row, '
         'not 11'),
        ({"lockout_threshold": "10"}, '"lockout_threshold" must be an integer'),
        ({"lockout_seconds": 0}, '"lockout_seconds" must be from 1 to 86400 (a day), not 0'),
        ({"database_env": "MY DB"}, '"database_env" must name an environment variable, such as '
         '"EPCTL_DATABASE_URL", not "MY DB"'),
        ({"session": "1h"}, f'unknown key "session"; valid keys: {KEYS}'),
    ],
)  # fmt: skip
def test_a_bad_value_is_named_with_what_to_write(table: dict[str, Any], message: str) -> None:
    with pytest.raises(UsersConfigError) as caught:
        read_users_config({"users": table})
    assert str(caught.value) == f"epctl.toml [users]: {message}"


def test_a_url_in_database_env_is_refused_without_repeating_it() -> None:
    with pytest.raises(UsersConfigError) as caught:
        read_users_config({"users": {"database_env": "postgresql://farm:s3cret@db/users"}})
    assert str(caught.value) == (
        'epctl.toml [users]: "database_env" holds a URL; put the URL in an environment variable and name '
        'that variable here (e.g. database_env = "EPCTL_DATABASE_URL"): a URL never goes in a file'
    )
