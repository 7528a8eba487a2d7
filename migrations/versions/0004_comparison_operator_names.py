"""Alert rules' comparison_operator holds every CloudWatch operator name.

The seed's VARCHAR(20) fits GreaterThanThreshold but not GreaterThanOrEqualToThreshold (29
characters) or the anomaly-band operators (LessThanLowerOrGreaterThanUpperThreshold, 40), which
PostgreSQL refused to store. Downgrading refuses while a rule uses a name longer than 20.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

from oaktree.db import MigrationRefused

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED_LENGTH = 20
OPERATOR_LENGTH = 64


@contextlib.contextmanager
def _alerts_batch() -> Iterator[BatchOperations]:
    """Yield a batch alteration of `alerts` (SQLite rebuilds the table; PostgreSQL alters it).

    Rebuilding reflects the `users` table that `alerts` references, whose case-insensitive unique
    indexes are expressions SQLAlchemy cannot reflect: it warns, though `users` is not touched.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table("alerts") as batch:
            yield batch


def upgrade() -> None:
    with _alerts_batch() as batch:
        batch.alter_column(
            "comparison_operator",
            existing_type=sa.String(SEED_LENGTH),
            type_=sa.String(OPERATOR_LENGTH),
            existing_nullable=False,
        )


def downgrade() -> None:
    too_long = (
        op.get_bind()
        .execute(
            sa.select(sa.column("name"))
            .select_from(sa.table("alerts"))
            .where(sa.func.length(sa.column("comparison_operator")) > SEED_LENGTH)
        )
        .scalars()
        .all()
    )
    if too_long:
        raise MigrationRefused(
            "rules using operators longer than 20 characters: "
            f"{', '.join(sorted(str(name) for name in too_long))}; "
            "change or delete them, then downgrade again"
        )
    with _alerts_batch() as batch:
        batch.alter_column(
            "comparison_operator",
            existing_type=sa.String(OPERATOR_LENGTH),
            type_=sa.String(SEED_LENGTH),
            existing_nullable=False,
        )
