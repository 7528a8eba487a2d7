"""Usernames and email addresses unique whatever their case.

Revision ID: 0002
Revises: 0001
Create Date: 2025-05-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from oaktree.db import MigrationRefused

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CASE_INSENSITIVE_UNIQUE = {"uq_users_lower_username": "username", "uq_users_lower_email": "email"}


def _refuse_case_duplicates(column: str) -> None:
    """Stop with the clashing values when existing accounts differ only in the case of `column`."""
    clashes = (
        op.get_bind()
        .execute(
            sa.select(sa.func.lower(sa.column(column)))
            .select_from(sa.table("users"))
            .group_by(sa.func.lower(sa.column(column)))
            .having(sa.func.count() > 1)
        )
        .scalars()
        .all()
    )
    if clashes:
        raise MigrationRefused(
            f"users.{column} values differing only in case: {', '.join(sorted(clashes))}; "
            "rename or delete all but one account of each, then upgrade again"
        )


def upgrade() -> None:
    for column in CASE_INSENSITIVE_UNIQUE.values():
        _refuse_case_duplicates(column)
    for name, column in CASE_INSENSITIVE_UNIQUE.items():
        op.create_index(name, "users", [sa.func.lower(sa.column(column))], unique=True)


def downgrade() -> None:
    for name in CASE_INSENSITIVE_UNIQUE:
        op.drop_index(name, table_name="users")
