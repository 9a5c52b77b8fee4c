"""Which migration a users database is at, and bringing it to this epctl's newest one.

Checking reads the version table with SQLAlchemy alone (Alembic is only imported to migrate), so
opening a store in a server worker costs one small query. Migrating holds a lock for its whole
transaction: SQLite's write lock, or a PostgreSQL advisory lock, so two `epctl users migrate`
(or two first uses of one SQLite file) never run the same migration twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from epctl.runtime.users.database import describe_url, write_transaction
from epctl.runtime.users.errors import DatabaseTooNewError
from epctl.runtime.users.tables import VERSION_TABLE

MIGRATIONS_FOLDER = Path(__file__).resolve().parent / "migrations"
# Every revision this epctl ships, oldest first; the last is the one its tables need. A test checks
# this against the migration scripts themselves.
REVISIONS: tuple[str, ...] = ("0001",)
HEAD_REVISION = REVISIONS[-1]
# pg_advisory_xact_lock key: "epctl" + "users" folded into a bigint; any constant would do, as long
# as it is the same for every epctl.
_POSTGRES_LOCK_KEY = 0x6570_6374_6C75_7372 & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True, slots=True)
class Migration:
    """What `migrate_database` did: the revision before (None: an empty database) and after."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def read_revision(connection: Connection) -> str | None:
    """Return the database's migration revision, or None when it has never been migrated."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one_or_none()


def migrate_database(engine: Engine) -> Migration:
    """Apply every migration the database lacks, in one transaction, and return what changed.

    Raises DatabaseTooNewError rather than touching a database a newer epctl migrated.
    """
    # Imported here: only migrating needs Alembic, and it is slow to import.
    from alembic import command
    from alembic.config import Config

    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY})
        before = read_revision(connection)
        if before is not None and before not in REVISIONS:
            raise too_new_error(engine, before)
        if before == HEAD_REVISION:
            # Nothing to apply: skip Alembic, so hosts and workers starting at once hold the write
            # lock for a moment each, not for an Alembic run each (SQLite's waiters queue on it).
            return Migration(before, before)
        config = Config()
        # A bare Config reads no file; % is escaped because it is a ConfigParser underneath.
        config.set_main_option("script_location", str(MIGRATIONS_FOLDER).replace("%", "%%"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        after = read_revision(connection)
    assert after is not None
    return Migration(before, after)


def too_new_error(engine: Engine, revision: str) -> DatabaseTooNewError:
    """Return the error for a database at a revision this epctl does not ship."""
    return DatabaseTooNewError(
        f"the users database ({describe_url(engine.url)}) is at migration {revision}, which this "
        f"epctl does not know (its newest is {HEAD_REVISION}): a newer epctl migrated it; upgrade "
        "epctl on this host"
    )
