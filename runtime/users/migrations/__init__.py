"""Alembic migrations of the users database, shipped inside epctl and run by `revisions`."""
