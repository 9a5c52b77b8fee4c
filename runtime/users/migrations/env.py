"""Alembic's entry point: runs migrations on the connection `revisions.migrate_database` passes.

No alembic.ini and no URL here: the caller owns the connection and its transaction (and the lock
that keeps two migrations from running at once).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from epctl.runtime.users.tables import VERSION_TABLE

connection = context.config.attributes["connection"]
assert isinstance(connection, Connection), "run migrations through epctl.runtime.users.revisions"
context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
