"""Where the users database is and how to talk to it: SQLite under `.epctl/`, or PostgreSQL named
by an environment variable.

The URL never comes from a file: `[users] database_env` names the variable that holds it. SQLite
runs in WAL mode with a busy timeout, and every writing transaction takes SQLite's write lock when
it begins, so the CLI and any number of server workers can use one file at once: writers queue
instead of failing half-way, and readers never wait for them.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from epctl.runtime.project_writes import file_lock
from epctl.runtime.users.errors import DatabaseUnavailableError, DatabaseUrlError
from epctl.schemas.users_config import UsersConfig

STATE_FOLDER = ".epctl"
SQLITE_FILE = "users.db"
# How long a write waits for another process's write to finish before giving up.
SQLITE_BUSY_SECONDS = 10.0
POSTGRES_CONNECT_SECONDS = 10
# How long opening a SQLite database waits for another process or thread that is migrating it.
SETUP_LOCK_SECONDS = 60.0
_POSTGRES_NAMES = ("postgresql", "postgres", "postgresql+psycopg")
_SQLITE_NAMES = ("sqlite", "sqlite+pysqlite")
# An execution option of our own: set on connections whose transaction will write.
_WRITES = "epctl_writes"


def locate_database(project_dir: Path, config: UsersConfig, environ: Mapping[str, str] | None = None) -> URL:
    """Return the URL of the project's users database.

    The variable `config.database_env` names, when set and not empty, holds it: `postgresql://`
    (or `postgres://`) URLs are used with psycopg 3, a `sqlite:///path` URL names a file (relative
    to the project folder). Unset: SQLite at `<project>/.epctl/users.db`, creating `.epctl/` (private
    to its owner, with a `.gitignore` that keeps it out of git) on first use.
    Raises DatabaseUrlError, never echoing the value, which may hold a password.
    """
    name = config.database_env
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return URL.create("sqlite+pysqlite", database=str(prepare_state_folder(project_dir) / SQLITE_FILE))
    try:
        url = make_url(raw)
    except ArgumentError:
        raise DatabaseUrlError(
            f"{name} does not hold a database URL: set it to "
            f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or unset it to keep users in SQLite "
            f"under {STATE_FOLDER}/"
        ) from None
    if url.drivername in _POSTGRES_NAMES:
        return url.set(drivername="postgresql+psycopg")
    if url.drivername in _SQLITE_NAMES:
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise DatabaseUrlError(
                f"{name} holds a SQLite URL without a file: use sqlite:///path/to/users.db "
                "(every connection to an in-memory database would see its own empty one)"
            )
        path = Path(url.database).expanduser()
        return url.set(drivername="sqlite+pysqlite", database=str((project_dir / path).resolve()))
    raise DatabaseUrlError(
        f"{name} holds a {url.get_backend_name()} URL; epctl keeps users in PostgreSQL "
        f"(postgresql://USER:PASSWORD@HOST:PORT/DATABASE) or, with {name} unset, in SQLite under "
        f"{STATE_FOLDER}/"
    )


def prepare_state_folder(project_dir: Path) -> Path:
    """Return `<project>/.epctl`, creating it (mode 0700, with a `.gitignore` of `*`) if missing."""
    folder = project_dir / STATE_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        # The folder ignores itself, so no project's own .gitignore has to know about it.
        ignore.write_text("# epctl's local state: never in git\n*\n", encoding="utf-8")
    return folder


def describe_url(url: URL) -> str:
    """Return `url` as text safe to print and log: the password is replaced by ***."""
    if is_sqlite(url):
        return f"SQLite {url.database}"
    return url.render_as_string(hide_password=True)


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_database_engine(url: URL) -> Engine:
    """Return an engine for `url` (from `locate_database`); connects lazily, on first use."""
    if is_sqlite(url):
        assert url.database is not None
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(
        url,
        # A server outlives database restarts and idle-connection reaping: test before use.
        pool_pre_ping=True,
        connect_args={"connect_timeout": POSTGRES_CONNECT_SECONDS, "application_name": "epctl"},
    )


@contextmanager
def sqlite_setup_lock(url: URL) -> Iterator[None]:
    """Hold an OS lock beside a SQLite database while it is checked and migrated (nothing for
    PostgreSQL, which takes an advisory lock in the migration's own transaction).

    Workers and commands starting at once then take turns: one migrates, the others find it done.
    Without it they all wait on SQLite's write lock at once, and under load the last ones give up with
    "database is locked" once the busy timeout has passed. Raises DatabaseUnavailableError when the
    lock is held for more than SETUP_LOCK_SECONDS.
    """
    if not is_sqlite(url):
        yield
        return
    assert url.database is not None
    path = Path(url.database + ".setup-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    busy = DatabaseUnavailableError(
        f"cannot use the users database ({describe_url(url)}): another epctl process has been "
        f"setting it up for more than {SETUP_LOCK_SECONDS:.0f} s; try again"
    )
    with file_lock(path, SETUP_LOCK_SECONDS, busy):
        yield


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in a transaction that will write; commits on success, rolls back on error.

    On SQLite the write lock is taken at BEGIN (waiting up to SQLITE_BUSY_SECONDS for another
    writer), so a transaction never fails half-way because another process wrote since it read.
    """
    with engine.connect() as connection:
        connection.execution_options(**{_WRITES: True})
        with connection.begin():
            yield connection


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Leave BEGIN to `_begin_sqlite`: pysqlite's own transaction handling cannot begin IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode = WAL")  # readers do not wait for writers, nor block them
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, and much faster
        cursor.execute("PRAGMA foreign_keys = ON")  # removing a user removes their groups
    finally:
        cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    writes = connection.get_execution_options().get(_WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
