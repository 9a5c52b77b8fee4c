"""Experience users: accounts, groups, passwords and sign-in in SQLite or PostgreSQL.

`open_user_store` gives the `UserStore` of a project (what workflows get as `request.users`);
`migrate_project_database` is `epctl users migrate`.
"""

from __future__ import annotations

from epctl.runtime.users.errors import (
    DatabaseTooNewError,
    DatabaseUnavailableError,
    DatabaseUrlError,
    DuplicateEmailError,
    InvalidUserDataError,
    MigrationNeededError,
    UnknownUserError,
    UsersError,
)
from epctl.runtime.users.passwords import Passwords
from epctl.runtime.users.store import NewUser, User, UserStore, migrate_project_database, open_user_store

__all__ = [
    "DatabaseTooNewError",
    "DatabaseUnavailableError",
    "DatabaseUrlError",
    "DuplicateEmailError",
    "InvalidUserDataError",
    "MigrationNeededError",
    "NewUser",
    "Passwords",
    "UnknownUserError",
    "User",
    "UserStore",
    "UsersError",
    "migrate_project_database",
    "open_user_store",
]
