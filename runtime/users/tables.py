"""The users database's tables (SQLAlchemy Core), as the newest migration leaves them.

Table names carry an `epctl_` prefix, and Alembic's version table is `epctl_users_version`, so the
users can share a PostgreSQL database with an application's own tables and its own Alembic.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    true,
)

VERSION_TABLE = "epctl_users_version"


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the zone (timestamptz); SQLite keeps none, so values are converted to UTC
    before they are written and tagged UTC when read, and comparisons in SQL stay correct.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

users = Table(
    "epctl_users",
    metadata,
    Column("id", String(32), primary_key=True),  # uuid4 hex: never reused, safe in a token's `sub`
    Column("email", String(254), nullable=False),  # as the user wrote it
    Column("email_key", String(254), nullable=False),  # lowercased: what makes an email unique
    Column("name", String(200), nullable=False, server_default=""),
    Column("password_hash", Text, nullable=True),  # argon2id PHC string; NULL: cannot sign in
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Bumped whenever existing sessions must end (disable, password or group change); tokens carry
    # the generation they were minted under and are refused once it differs.
    Column("generation", Integer, nullable=False, server_default="1"),
    Column("failed_sign_ins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcDateTime, nullable=True),
    Index("epctl_users_email_key", "email_key", unique=True),
)

# One row per membership rather than a JSON column: adding and removing groups are single-row
# writes, so two concurrent changes to one user never overwrite each other, and listing the members
# of a group is an index lookup.
user_groups = Table(
    "epctl_user_groups",
    metadata,
    Column("user_id", String(32), ForeignKey("epctl_users.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(128), primary_key=True),
    Index("epctl_user_groups_name", "name"),
)
