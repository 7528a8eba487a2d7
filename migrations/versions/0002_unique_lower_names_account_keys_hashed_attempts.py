"""Usernames and email addresses unique whatever their case; a random, never-reused account key
per user, which session tokens carry; login attempts keep no typed names (only keyed digests from
now on). Downgrading keeps the digests: what was typed is gone for good.

Revision ID: 0002
Revises: 0001
Create Date: 2025-05-06
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from oaktree.db import MigrationRefused

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CASE_INSENSITIVE_UNIQUE = {"uq_users_lower_username": "username", "uq_users_lower_email": "email"}
ACCOUNT_KEY_BYTES = 16
USERS = sa.table("users", sa.column("id", sa.Integer()), sa.column("account_key", sa.String()))
LOGIN_ATTEMPTS = sa.table(
    "login_attempts", sa.column("user_id", sa.Integer()), sa.column("identifier", sa.String())
)


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


def _give_every_user_an_account_key() -> None:
    bind = op.get_bind()
    for user_id in bind.execute(sa.select(USERS.c.id)).scalars().all():
        bind.execute(
            USERS.update()
            .where(USERS.c.id == user_id)
            .values(account_key=secrets.token_hex(ACCOUNT_KEY_BYTES))
        )


def _forget_what_was_typed() -> None:
    """Remove the typed names of past login attempts (some may be passwords typed into the wrong box).

    They cannot be turned into digests here: the key derives from the JWT signing secret, which
    migrations do not read. Attempts against names matching no account only mattered to their
    lockout, which ends within minutes; an account's attempts keep counting by its id.
    """
    bind = op.get_bind()
    bind.execute(LOGIN_ATTEMPTS.delete().where(LOGIN_ATTEMPTS.c.user_id.is_(None)))
    bind.execute(LOGIN_ATTEMPTS.update().values(identifier=""))


def upgrade() -> None:
    for column in CASE_INSENSITIVE_UNIQUE.values():
        _refuse_case_duplicates(column)
    for name, column in CASE_INSENSITIVE_UNIQUE.items():
        op.create_index(name, "users", [sa.func.lower(sa.column(column))], unique=True)

    # Nullable: SQLite adds a NOT NULL column only with a constant default, and other tools may
    # still insert users as the seed schema allows. Tokens issued before this have no key and stop
    # working (everyone logs in again).
    op.add_column("users", sa.Column("account_key", sa.String(2 * ACCOUNT_KEY_BYTES), nullable=True))
    _give_every_user_an_account_key()
    op.create_index("ix_users_account_key", "users", ["account_key"], unique=True)

    _forget_what_was_typed()


def downgrade() -> None:
    op.drop_index("ix_users_account_key", table_name="users")
    # Not batch mode: on SQLite that rebuilds the table, losing the expression indexes it cannot
    # reflect, and dropping the old `users` with foreign keys enforced would cascade-delete every
    # row that references it. SQLite 3.35+ drops a column in place.
    op.drop_column("users", "account_key")
    for name in CASE_INSENSITIVE_UNIQUE:
        op.drop_index(name, table_name="users")
