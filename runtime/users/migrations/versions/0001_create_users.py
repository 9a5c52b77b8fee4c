"""Create the users and their group memberships.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Plain types, not the runtime's: a migration must keep meaning what it meant when it shipped.
    op.create_table(
        "epctl_users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_key", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False, server_default="1"),
        sa.Column("failed_sign_ins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("epctl_users_email_key", "epctl_users", ["email_key"], unique=True)
    op.create_table(
        "epctl_user_groups",
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("epctl_users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(128), primary_key=True),
    )
    op.create_index("epctl_user_groups_name", "epctl_user_groups", ["name"])


def downgrade() -> None:
    op.drop_table("epctl_user_groups")
    op.drop_table("epctl_users")
