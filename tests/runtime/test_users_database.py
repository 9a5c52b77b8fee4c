"""Where the users database is, and its migrations, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from epctl.runtime.users import (
    DatabaseTooNewError,
    DatabaseUnavailableError,
    DatabaseUrlError,
    MigrationNeededError,
    database,
    migrate_project_database,
    open_user_store,
)
from epctl.runtime.users.database import create_database_engine, describe_url, locate_database
from epctl.runtime.users.revisions import HEAD_REVISION, MIGRATIONS_FOLDER, REVISIONS
from epctl.runtime.users.tables import VERSION_TABLE
from epctl.schemas.users_config import UsersConfig
from tests.postgres import free_port

CONFIG = UsersConfig()
THREAD_SECONDS = 60

# PostgreSQL fixtures (a cluster per session, a database per test): see tests/postgres.py.
pytest_plugins = ["tests.postgres"]


def test_without_a_url_users_live_in_sqlite_under_dot_epctl(tmp_path: Path) -> None:
    url = locate_database(tmp_path, CONFIG, {})
    assert (url.drivername, url.database) == ("sqlite+pysqlite", str(tmp_path / ".epctl" / "users.db"))
    folder = tmp_path / ".epctl"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    with open_user_store(tmp_path, CONFIG, environ={}) as store, store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_a_plain_postgresql_url_is_used_with_psycopg_3(tmp_path: Path, scheme: str) -> None:
    environ = {"EPCTL_DATABASE_URL": f"{scheme}://farm:s3cret@db.example.com:5433/users"}
    url = locate_database(tmp_path, CONFIG, environ)
    assert (url.drivername, url.host, url.port, url.database, url.password) == (
        "postgresql+psycopg",
        "db.example.com",
        5433,
        "users",
        "s3cret",
    )
    assert describe_url(url) == "postgresql+psycopg://farm:***@db.example.com:5433/users"
    assert not (tmp_path / ".epctl").exists()


def test_the_variable_is_the_one_database_env_names(tmp_path: Path) -> None:
    config = UsersConfig(database_env="FARM_USERS_DB")
    url = locate_database(tmp_path, config, {"FARM_USERS_DB": "postgresql://h/d", "EPCTL_DATABASE_URL": "x"})
    assert url.host == "h"


def test_a_sqlite_url_names_a_file_relative_to_the_project(tmp_path: Path) -> None:
    url = locate_database(tmp_path, CONFIG, {"EPCTL_DATABASE_URL": "sqlite:///shared/users.db"})
    assert url.database == str(tmp_path / "shared" / "users.db")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "mysql://farm:s3cret@db/users",
            "EPCTL_DATABASE_URL holds a mysql URL; epctl keeps users in PostgreSQL "
            "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE) or, with EPCTL_DATABASE_URL unset, "
            "in SQLite under .epctl/",
        ),
        (
            "farm:s3cret@db/users",
            "EPCTL_DATABASE_URL does not hold a database URL: set it to "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or unset it to keep users in SQLite "
            "under .epctl/",
        ),
        (
            "sqlite://",
            "EPCTL_DATABASE_URL holds a SQLite URL without a file: use sqlite:///path/to/users.db "
            "(every connection to an in-memory database would see its own empty one)",
        ),
    ],
)
def test_an_unusable_url_is_refused_without_echoing_it(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        locate_database(tmp_path, CONFIG, {"EPCTL_DATABASE_URL": value})
    assert str(caught.value) == message


def test_an_unreachable_server_is_a_clear_error_that_hides_the_password(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    environ = {"EPCTL_DATABASE_URL": f"postgresql://farm:s3cret@127.0.0.1:{port}/users"}
    with pytest.raises(DatabaseUnavailableError) as caught:
        open_user_store(tmp_path, CONFIG, environ=environ)
    message = str(caught.value)
    assert message.startswith(
        f"cannot use the users database (postgresql+psycopg://farm:***@127.0.0.1:{port}/users): "
    )
    assert "s3cret" not in message


def test_the_revisions_epctl_knows_are_the_migration_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_current_head() == HEAD_REVISION
    assert tuple(reversed([script.revision for script in scripts.walk_revisions()])) == REVISIONS


def test_postgresql_is_never_migrated_silently(tmp_path: Path, postgres_url: str) -> None:
    environ = {"EPCTL_DATABASE_URL": postgres_url}
    shown = postgres_url.replace("postgresql://", "postgresql+psycopg://")
    with pytest.raises(MigrationNeededError) as caught:
        open_user_store(tmp_path, CONFIG, environ=environ)
    assert str(caught.value) == (
        f"the users database ({shown}) has no epctl users tables yet: run `epctl users migrate` "
        "(epctl never migrates a PostgreSQL database by itself)"
    )
    engine = create_database_engine(locate_database(tmp_path, CONFIG, environ))
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == []
    engine.dispose()


def test_sqlite_is_migrated_on_first_use(tmp_path: Path) -> None:
    with open_user_store(tmp_path, CONFIG, environ={}) as store:
        store.create("ada@example.com")
    _, migration = migrate_project_database(tmp_path, CONFIG, environ={})
    assert (migration.before, migration.after, migration.changed) == (HEAD_REVISION, HEAD_REVISION, False)


def test_migrate_applies_once_and_keeps_users(tmp_path: Path, database_env: dict[str, str]) -> None:
    _, first = migrate_project_database(tmp_path, CONFIG, environ=database_env)
    assert (first.before, first.after, first.changed) == (None, HEAD_REVISION, True)
    with open_user_store(tmp_path, CONFIG, environ=database_env) as store:
        store.create("ada@example.com", groups=["admins"])
    _, again = migrate_project_database(tmp_path, CONFIG, environ=database_env)
    assert (again.before, again.after, again.changed) == (HEAD_REVISION, HEAD_REVISION, False)
    with open_user_store(tmp_path, CONFIG, environ=database_env) as store:
        assert [(u.email, u.groups) for u in store.list()] == [("ada@example.com", ("admins",))]


def test_concurrent_migrations_apply_once(tmp_path: Path, database_env: dict[str, str]) -> None:
    changed: list[bool] = []
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            changed.append(migrate_project_database(tmp_path, CONFIG, environ=database_env)[1].changed)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_SECONDS)
        assert not thread.is_alive()
    assert errors == []
    assert sorted(changed) == [False, False, True]


def test_a_database_from_a_newer_epctl_is_left_alone(tmp_path: Path, database_env: dict[str, str]) -> None:
    url, _ = migrate_project_database(tmp_path, CONFIG, environ=database_env)
    engine = create_database_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    message = (
        f"the users database ({describe_url(url)}) is at migration 9999, which this epctl does not know "
        f"(its newest is {HEAD_REVISION}): a newer epctl migrated it; upgrade epctl on this host"
    )
    with pytest.raises(DatabaseTooNewError) as caught:
        open_user_store(tmp_path, CONFIG, environ=database_env)
    assert str(caught.value) == message
    with pytest.raises(DatabaseTooNewError) as caught:
        migrate_project_database(tmp_path, CONFIG, environ=database_env)
    assert str(caught.value) == message


def test_a_sqlite_database_set_up_elsewhere_for_too_long_is_reported_not_waited_on_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = locate_database(tmp_path, CONFIG, {})
    assert url.database is not None
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(database, "SETUP_LOCK_SECONDS", 1.0)
    holder = os.open(url.database + ".setup-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process migrating it
        with pytest.raises(DatabaseUnavailableError) as caught:
            open_user_store(tmp_path, CONFIG, environ={})
    finally:
        os.close(holder)
    assert str(caught.value) == (
        f"cannot use the users database ({describe_url(url)}): another epctl process has been "
        "setting it up for more than 1 s; try again"
    )
    open_user_store(tmp_path, CONFIG, environ={}).close()  # free again: opens and migrates
