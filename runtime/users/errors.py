"""What the user store raises on purpose. Each message says what to do; none holds a password."""

from __future__ import annotations

from epctl.schemas.problems import EpctlError


class UsersError(EpctlError):
    """Base of every error of experience users."""


class InvalidUserDataError(UsersError):
    """An email, name, group or password the store refuses to keep."""


class DuplicateEmailError(UsersError):
    """Another account already has this email (emails are unique whatever their case)."""

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(f"a user with email {email} already exists")


class UnknownUserError(UsersError):
    """No account has this id or email."""


class DatabaseUrlError(UsersError):
    """The environment variable meant to hold the database URL holds something unusable."""


class DatabaseUnavailableError(UsersError):
    """The users database cannot be opened or reached."""


class MigrationNeededError(UsersError):
    """The users database is older than this epctl (or empty) and will not be migrated silently."""


class DatabaseTooNewError(UsersError):
    """The users database was migrated by a newer epctl than this one."""
