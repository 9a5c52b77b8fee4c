"""A real PostgreSQL for tests: one throwaway cluster per test session; an empty database per test,
or the session's migrated users database emptied for each test.

Test modules import the fixtures they use from here (`from tests.postgres import ...`). The
cluster runs from Debian's postgresql-15 binaries, as the `postgres` user when tests run as root
(PostgreSQL refuses to run as root), in a temporary folder, on a free port on 127.0.0.1 with trust
authentication, its unix socket in that folder. It is always stopped and its folder removed. Without
the binaries, tests that need it are skipped, saying why.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from epctl.runtime.users.database import create_database_engine
from epctl.runtime.users.revisions import migrate_database
from epctl.runtime.users.tables import user_groups, users

BIN_DIRS = [Path(f"/usr/lib/postgresql/{major}/bin") for major in (17, 16, 15)]
COMMAND_SECONDS = 60
CONNECT_SECONDS = 10
BACKENDS = ("sqlite", "postgresql")
USERS_TABLES = (user_groups.name, users.name)


@dataclass(frozen=True)
class PostgresCluster:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        """Return a plain `postgresql://` URL, as a user would export it."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname="postgres",
            autocommit=True,
            connect_timeout=CONNECT_SECONDS,
        )


def find_bin_dir() -> Path | None:
    """Return the folder holding initdb and pg_ctl, or None."""
    for folder in BIN_DIRS:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a PostgreSQL cluster for the session; skip when its binaries are not installed."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries not found (looked in "
            f"{', '.join(str(folder) for folder in BIN_DIRS)}): apt-get install postgresql-15"
        )
    as_postgres: list[str] = []
    owner = None
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    # Not under pytest's tmp folder: its parents are private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="epctl-postgres-"))
    data = folder / "data"
    log = folder / "server.log"
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)

    def run(*command: str) -> None:
        result = subprocess.run(
            [*as_postgres, *command],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
        )
        if result.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}{server_log}")

    started = False
    try:
        run(
            str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        for attempt in range(3):  # another process may take the free port before the server does
            port = free_port()
            options = (
                f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                run(
                    str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w",
                    "-t", str(COMMAND_SECONDS), "-o", options,
                )  # fmt: skip
            except RuntimeError:
                if attempt == 2:
                    raise
                continue
            started = True
            break
        yield PostgresCluster(host="127.0.0.1", port=port, user="postgres")
    finally:
        try:
            if started:
                run(str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "30")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def create_database(cluster: PostgresCluster) -> str:
    """Create an empty database and return its name."""
    name = f"epctl_test_{uuid.uuid4().hex[:12]}"
    with cluster.admin() as connection:
        connection.execute(sql.SQL("CREATE DATABASE {} STRATEGY FILE_COPY").format(sql.Identifier(name)))
    return name


def drop_database(cluster: PostgresCluster, name: str) -> None:
    with cluster.admin() as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """Create an empty database for one test and return its `postgresql://` URL; drop it after."""
    name = create_database(postgres_cluster)
    try:
        yield postgres_cluster.url(name)
    finally:
        drop_database(postgres_cluster, name)


@pytest.fixture(scope="session")
def migrated_postgres(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """One database for the session, migrated for experience users; its URL."""
    name = create_database(postgres_cluster)
    try:
        url = postgres_cluster.url(name)
        engine = create_database_engine(make_url(url).set(drivername="postgresql+psycopg"))
        try:
            migrate_database(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        drop_database(postgres_cluster, name)


@pytest.fixture
def users_postgres_url(migrated_postgres: str) -> str:
    """The session's migrated database with no users in it: a test starts from an empty store.

    Emptying it is far cheaper than creating and migrating a database for every test.
    """
    with psycopg.connect(migrated_postgres, autocommit=True, connect_timeout=CONNECT_SECONDS) as connection:
        connection.execute("SET lock_timeout = '10s'")  # a connection a test left open fails, not hangs
        connection.execute(f"TRUNCATE {', '.join(USERS_TABLES)}")
    return migrated_postgres


@pytest.fixture(params=BACKENDS)
def database_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment a test's project runs in: once with no database URL (SQLite under
    `.epctl/`, not created yet), once with EPCTL_DATABASE_URL naming a new, empty PostgreSQL
    database."""
    if request.param == "sqlite":
        return {}
    url: str = request.getfixturevalue("postgres_url")
    return {"EPCTL_DATABASE_URL": url}


@pytest.fixture(params=BACKENDS)
def users_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Like `database_env`, but the PostgreSQL database is already migrated (with no users);
    SQLite migrates itself on first use."""
    if request.param == "sqlite":
        return {}
    url: str = request.getfixturevalue("users_postgres_url")
    return {"EPCTL_DATABASE_URL": url}
