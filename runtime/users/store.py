"""Experience users: accounts, groups and sign-in, kept in SQLite or PostgreSQL.

`UserStore` is what the CLI uses and what workflows get as `request.users`. Every method is one
transaction, safe to run while other processes (the CLI, server workers on other hosts) use the same
database. Slow password hashing always happens before a write transaction begins, so no lock is held
while argon2 works.

Revocation: every change that must end a user's sessions (disabling, a new password, a group added
or removed, removal) bumps the account's `generation`. Tokens carry the generation they were minted
under; `session_generation` is the one query the server needs to check them.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    case,
    delete,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import URL, RowMapping
from sqlalchemy.exc import DBAPIError, IntegrityError

from epctl.runtime.users.database import (
    create_database_engine,
    describe_url,
    is_sqlite,
    locate_database,
    sqlite_setup_lock,
    write_transaction,
)
from epctl.runtime.users.errors import (
    DatabaseUnavailableError,
    DuplicateEmailError,
    InvalidUserDataError,
    MigrationNeededError,
    UnknownUserError,
)
from epctl.runtime.users.inputs import (
    check_email,
    check_groups,
    check_name,
    check_password,
    email_key,
    is_user_id,
    lookup_key,
)
from epctl.runtime.users.passwords import Passwords
from epctl.runtime.users.revisions import (
    HEAD_REVISION,
    REVISIONS,
    Migration,
    migrate_database,
    read_revision,
    too_new_error,
)
from epctl.runtime.users.tables import UtcDateTime, user_groups, users
from epctl.schemas.users_config import UsersConfig

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class User:
    """One account as stored. It never holds the password hash: `has_password` says if one is set."""

    id: str
    email: str
    name: str
    groups: tuple[str, ...]
    enabled: bool
    has_password: bool
    # What the server compares with a token's generation; see the module docstring.
    generation: int
    created_at: datetime
    updated_at: datetime
    locked_until: datetime | None

    def is_locked(self, now: datetime | None = None) -> bool:
        """Return whether failed sign-ins have locked the account at `now` (default: now)."""
        return self.locked_until is not None and self.locked_until > (now or utc_now())

    def to_dict(self) -> dict[str, Any]:
        """Return the account as JSON-ready data (times in ISO 8601, UTC)."""
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "groups": list(self.groups),
            "enabled": self.enabled,
            "has_password": self.has_password,
            "locked_until": _iso(self.locked_until) if self.is_locked() else None,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class NewUser:
    """An account to create; `create_many` checks every field before writing any."""

    email: str
    name: str = ""
    groups: Sequence[str] = ()
    password: str | None = None

    def __repr__(self) -> str:
        # Never show the password, even in a traceback's locals.
        return f"NewUser(email={self.email!r}, name={self.name!r}, groups={tuple(self.groups)!r})"


UserRef = User | str  # an account, or its id


class UserStore:
    """Accounts in one database; see the module docstring. Use `open_user_store` to get one."""

    def __init__(
        self,
        engine: Engine,
        config: UsersConfig | None = None,
        *,
        passwords: Passwords | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """Use `engine`, whose database must be migrated; `passwords` hashes and verifies (and
        counts verifications); `clock` tells the time for timestamps and lockouts."""
        self.engine = engine
        self.config = config or UsersConfig()
        self.passwords = passwords or Passwords()
        self.clock = clock

    def __repr__(self) -> str:
        return f"<UserStore {describe_url(self.engine.url)}>"

    def __enter__(self) -> UserStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # -- sign-in --------------------------------------------------------------------------------
    def authenticate(self, email: str, password: str) -> User | None:
        """Return the account when `password` is its password and it may sign in, else None.

        Costs exactly one password verification whatever the outcome, so the answer and its time
        never tell whether an email exists. A wrong password counts a failure in the database;
        `lockout_threshold` failures in a row lock the account for `lockout_seconds`, during which
        even the right password returns None. Success resets the count. Disabled accounts and
        accounts without a password never sign in.
        """
        key = lookup_key(email)
        row = None
        if key is not None:
            with self.engine.connect() as connection:
                row = connection.execute(select(users).where(users.c.email_key == key)).first()
        matched = self.passwords.verify(row.password_hash if row is not None else None, password)
        if row is None or not row.enabled:
            return None
        now = self.clock()
        if row.locked_until is not None and row.locked_until > now:
            return None
        if not matched:
            self._count_failure(row.id, now)
            return None
        new_hash = self.passwords.hash(password) if self.passwords.needs_rehash(row.password_hash) else None
        if row.failed_sign_ins or new_hash is not None:
            with write_transaction(self.engine) as connection:
                values: dict[str, Any] = {"failed_sign_ins": 0}
                if new_hash is not None:  # same password, the hasher's current parameters
                    values["password_hash"] = new_hash
                connection.execute(update(users).where(users.c.id == row.id).values(values))
        user = self.get(row.id)
        return user if user is not None and user.enabled else None  # unless disabled meanwhile

    def _count_failure(self, user_id: str, now: datetime) -> None:
        # One UPDATE that reads and writes the count, so failures on several workers and hosts at
        # once are all counted. A locked account's failures are not: its lock is not extended.
        reached = users.c.failed_sign_ins + 1 >= self.config.lockout_threshold
        until = now + timedelta(seconds=self.config.lockout_seconds)
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(users)
                .where(users.c.id == user_id, _not_locked(now))
                .values(
                    failed_sign_ins=case((reached, 0), else_=users.c.failed_sign_ins + 1),
                    locked_until=case((reached, literal(until, UtcDateTime())), else_=None),
                )
            )

    def session_generation(self, user_id: str) -> int | None:
        """Return the account's session generation, or None when it is removed or disabled (so
        none of its sessions may go on). Any text is safe: a token's `sub` may name no account."""
        if not is_user_id(user_id):
            return None
        with self.engine.connect() as connection:
            generation: int | None = connection.execute(
                select(users.c.generation).where(users.c.id == user_id, users.c.enabled.is_(True))
            ).scalar_one_or_none()
        return generation

    # -- reading --------------------------------------------------------------------------------
    def get(self, user_id: str) -> User | None:
        """Return the account with this id, or None (also for text that is no id)."""
        if not is_user_id(user_id):
            return None
        with self.engine.connect() as connection:
            return _read_user(connection, users.c.id == user_id)

    def find(self, email: str) -> User | None:
        """Return the account with this email (in any case), or None."""
        key = lookup_key(email)
        if key is None:
            return None
        with self.engine.connect() as connection:
            return _read_user(connection, users.c.email_key == key)

    def list(self, group: str | None = None) -> builtins.list[User]:
        """Return every account, or the members of `group`, ordered by email."""
        query = select(users).order_by(users.c.email_key)
        if group is not None:
            members = select(user_groups.c.user_id).where(user_groups.c.name == group)
            query = query.where(users.c.id.in_(members))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
            groups = _read_groups(connection, query.with_only_columns(users.c.id).order_by(None))
        return [_to_user(row._mapping, groups.get(row.id, ())) for row in rows]

    # -- writing --------------------------------------------------------------------------------
    def create(
        self, email: str, password: str | None = None, name: str = "", groups: Iterable[str] = ()
    ) -> User:
        """Create an account and return it. Without a password it cannot sign in until one is set.

        Raises InvalidUserDataError for a bad email, name, group or password, and
        DuplicateEmailError when the email (in any case) is taken.
        """
        return self.create_many([NewUser(email, name, tuple(groups), password)])[0]

    def create_many(self, accounts: Iterable[NewUser]) -> builtins.list[User]:
        """Create every account in one transaction (all or none) and return them in order.

        Raises InvalidUserDataError or DuplicateEmailError (for the first email taken or given
        twice) before writing anything.
        """
        rows: builtins.list[dict[str, Any]] = []
        memberships: builtins.list[dict[str, str]] = []
        keys: set[str] = set()
        now = self.clock()
        for account in accounts:
            email = check_email(account.email)
            if email_key(email) in keys:
                raise DuplicateEmailError(email)
            keys.add(email_key(email))
            user_id = uuid.uuid4().hex
            password = account.password
            rows.append(
                {
                    "id": user_id,
                    "email": email,
                    "email_key": email_key(email),
                    "name": check_name(account.name),
                    "password_hash": (
                        None if password is None else self.passwords.hash(check_password(password))
                    ),
                    "enabled": True,
                    "created_at": now,
                    "updated_at": now,
                    "generation": 1,
                    "failed_sign_ins": 0,
                    "locked_until": None,
                }
            )
            memberships += [{"user_id": user_id, "name": g} for g in check_groups(account.groups)]
        if not rows:
            return []
        try:
            with write_transaction(self.engine) as connection:
                taken = _find_taken(connection, [row["email_key"] for row in rows])
                if taken:
                    raise DuplicateEmailError(next(r["email"] for r in rows if r["email_key"] in taken))
                connection.execute(insert(users), rows)
                if memberships:
                    connection.execute(insert(user_groups), memberships)
        except IntegrityError:
            # Another process created one of these emails between our check and our insert (only
            # possible on PostgreSQL, where the check does not lock): name it.
            with self.engine.connect() as connection:
                taken = _find_taken(connection, [row["email_key"] for row in rows])
            raise DuplicateEmailError(
                next((r["email"] for r in rows if r["email_key"] in taken), rows[0]["email"])
            ) from None
        groups: dict[str, builtins.list[str]] = {}
        for membership in memberships:
            groups.setdefault(membership["user_id"], []).append(membership["name"])
        return [_to_user(row, tuple(groups.get(row["id"], ()))) for row in rows]

    def update(
        self,
        user: UserRef,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        add_groups: Iterable[str] = (),
        remove_groups: Iterable[str] = (),
        password: str | None = None,
        unlock: bool = False,
    ) -> User:
        """Apply every given change in one transaction and return the account as it is after.

        Disabling, a new password and any group actually added or removed end the account's
        sessions (its generation is bumped). `unlock` clears a sign-in lockout and its count.
        Raises UnknownUserError, InvalidUserDataError (also for a group both added and removed).
        """
        adding, removing = check_groups(add_groups), check_groups(remove_groups)
        both = sorted(set(adding) & set(removing))
        if both:
            raise InvalidUserDataError(f'group "{both[0]}" cannot be both added and removed')
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = check_name(name)
        if password is not None:
            values["password_hash"] = self.passwords.hash(check_password(password))
        if unlock:
            values.update(failed_sign_ins=0, locked_until=None)
        user_id = _user_id(user)
        with write_transaction(self.engine) as connection:
            # FOR UPDATE (PostgreSQL; SQLite's write lock already serializes) makes concurrent
            # changes to one account queue, so the group reads below see each other's writes.
            current = connection.execute(
                select(users.c.enabled).where(users.c.id == user_id).with_for_update()
            ).first()
            if current is None:
                raise UnknownUserError(f"no user with {_describe(user)}")
            revoke = password is not None or (enabled is False and current.enabled)
            if enabled is not None and enabled != current.enabled:
                values["enabled"] = enabled
            had = set(
                connection.execute(
                    select(user_groups.c.name).where(user_groups.c.user_id == user_id)
                ).scalars()
            )
            added = [group for group in adding if group not in had]
            removed = [group for group in removing if group in had]
            if added:
                connection.execute(insert(user_groups), [{"user_id": user_id, "name": g} for g in added])
            if removed:
                connection.execute(
                    delete(user_groups).where(
                        user_groups.c.user_id == user_id, user_groups.c.name.in_(removed)
                    )
                )
            if added or removed or revoke:
                values["generation"] = users.c.generation + 1
            if values or added or removed:
                values["updated_at"] = self.clock()
                connection.execute(update(users).where(users.c.id == user_id).values(values))
            after = _read_user(connection, users.c.id == user_id)
        assert after is not None
        return after

    def set_password(self, user: UserRef, password: str) -> User:
        """Set a new password (ending the account's sessions); see `update` for what it raises."""
        return self.update(user, password=password)

    def add_groups(self, user: UserRef, groups: Iterable[str]) -> User:
        """Add the account to `groups`; ends its sessions when any was new."""
        return self.update(user, add_groups=groups)

    def remove_groups(self, user: UserRef, groups: Iterable[str]) -> User:
        """Take the account out of `groups`; ends its sessions when it was in any."""
        return self.update(user, remove_groups=groups)

    def set_enabled(self, user: UserRef, enabled: bool) -> User:
        """Enable or disable the account; disabling ends its sessions."""
        return self.update(user, enabled=enabled)

    def set_name(self, user: UserRef, name: str) -> User:
        """Change the display name (sessions go on)."""
        return self.update(user, name=name)

    def unlock(self, user: UserRef) -> User:
        """Clear a sign-in lockout and the count of failed sign-ins."""
        return self.update(user, unlock=True)

    def remove(self, user: UserRef) -> None:
        """Delete the account and its groups; its sessions end. Raises UnknownUserError."""
        user_id = _user_id(user)
        with write_transaction(self.engine) as connection:
            gone = connection.execute(delete(users).where(users.c.id == user_id)).rowcount
        if not gone:
            raise UnknownUserError(f"no user with {_describe(user)}")


def open_user_store(
    project_dir: Path,
    config: UsersConfig,
    *,
    environ: Mapping[str, str] | None = None,
    passwords: Passwords | None = None,
    clock: Clock = utc_now,
    auto_migrate: bool | None = None,
) -> UserStore:
    """Return the store of the project's users database (see `locate_database`), checked.

    `auto_migrate` (default: on for SQLite, off for PostgreSQL) migrates a database that needs it;
    otherwise such a database raises MigrationNeededError telling to run `epctl users migrate`, so
    a server never changes a shared database's schema by itself. Also raises DatabaseUrlError,
    DatabaseUnavailableError and DatabaseTooNewError.
    """
    url = locate_database(project_dir, config, environ)
    engine = create_database_engine(url)
    try:
        with _reaching(url), sqlite_setup_lock(url):
            with engine.connect() as connection:
                revision = read_revision(connection)
            if revision != HEAD_REVISION:
                if revision is not None and revision not in REVISIONS:
                    raise too_new_error(engine, revision)
                if not (is_sqlite(url) if auto_migrate is None else auto_migrate):
                    state = (
                        "has no epctl users tables yet"
                        if revision is None
                        else (f"is at migration {revision}, and this epctl needs {HEAD_REVISION}")
                    )
                    why = "" if is_sqlite(url) else " (epctl never migrates a PostgreSQL database by itself)"
                    raise MigrationNeededError(
                        f"the users database ({describe_url(url)}) {state}: run `epctl users migrate`{why}"
                    )
                migrate_database(engine)
    except BaseException:
        engine.dispose()
        raise
    return UserStore(engine, config, passwords=passwords, clock=clock)


def migrate_project_database(
    project_dir: Path, config: UsersConfig, *, environ: Mapping[str, str] | None = None
) -> tuple[URL, Migration]:
    """Bring the project's users database to this epctl's newest migration; return its URL and
    what changed. Raises DatabaseUrlError, DatabaseUnavailableError, DatabaseTooNewError."""
    url = locate_database(project_dir, config, environ)
    engine = create_database_engine(url)
    try:
        with _reaching(url), sqlite_setup_lock(url):
            return url, migrate_database(engine)
    finally:
        engine.dispose()


@contextmanager
def _reaching(url: URL) -> Iterator[None]:
    """Turn a failure to reach or open the database into DatabaseUnavailableError."""
    try:
        yield
    except DBAPIError as err:
        if isinstance(err, IntegrityError):
            raise
        # The driver's first line says what went wrong (refused, no such database, bad password)
        # and never holds the password itself.
        reason = str(err.orig).strip().splitlines()[0] if str(err.orig).strip() else type(err.orig).__name__
        raise DatabaseUnavailableError(
            f"cannot use the users database ({describe_url(url)}): {reason}"
        ) from None


def _not_locked(now: datetime) -> ColumnElement[bool]:
    return or_(users.c.locked_until.is_(None), users.c.locked_until <= literal(now, UtcDateTime()))


def _user_id(user: UserRef) -> str:
    """Return the id of an account reference; raises UnknownUserError for text that is no id."""
    if isinstance(user, User):
        return user.id
    if not is_user_id(user):
        raise UnknownUserError(f"no user with {_describe(user)}")
    return user


def _describe(user: UserRef) -> str:
    return f"email {user.email}" if isinstance(user, User) else f"id {user!r}"


def _find_taken(connection: Connection, keys: Sequence[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(keys), 500):  # bounded statements, whatever the batch
        chunk = keys[start : start + 500]
        taken.update(
            connection.execute(select(users.c.email_key).where(users.c.email_key.in_(chunk))).scalars()
        )
    return taken


def _read_user(connection: Connection, where: ColumnElement[bool]) -> User | None:
    row = connection.execute(select(users).where(where)).first()
    if row is None:
        return None
    groups = connection.execute(
        select(user_groups.c.name).where(user_groups.c.user_id == row.id).order_by(user_groups.c.name)
    ).scalars()
    return _to_user(row._mapping, tuple(groups))


def _read_groups(connection: Connection, user_ids: Any) -> dict[str, tuple[str, ...]]:
    found: dict[str, builtins.list[str]] = {}
    rows = connection.execute(
        select(user_groups.c.user_id, user_groups.c.name)
        .where(user_groups.c.user_id.in_(user_ids))
        .order_by(user_groups.c.user_id, user_groups.c.name)
    )
    for user_id, name in rows:
        found.setdefault(user_id, []).append(name)
    return {user_id: tuple(names) for user_id, names in found.items()}


def _to_user(values: RowMapping | Mapping[str, Any], groups: tuple[str, ...]) -> User:
    return User(
        id=values["id"],
        email=values["email"],
        name=values["name"],
        groups=groups,
        enabled=bool(values["enabled"]),
        has_password=values["password_hash"] is not None,
        generation=values["generation"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        locked_until=values["locked_until"],
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment is not None else None
