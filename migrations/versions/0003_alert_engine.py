"""The alert engine: the seed's `alerts` rules get statistic, period, M of N, missing-data treatment,
severity, owner, selector, hysteresis and flap settings; new tables for notification channels,
per-resource alert state, transitions, the notification outbox with its delivery attempts, and
silences.

Revision ID: 0003
Revises: 0002
Create Date: 2025-05-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# New columns of `alerts`, after the seed's. The NOT NULL ones carry server defaults, so rules
# that exist already (and other tools' inserts) get CloudWatch's defaults.
RULE_COLUMNS = (
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("statistic", sa.String(20), server_default=sa.text("'Average'"), nullable=False),
    sa.Column("period_seconds", sa.Integer(), server_default=sa.text("300"), nullable=False),
    sa.Column("evaluation_periods", sa.Integer(), server_default=sa.text("1"), nullable=False),
    sa.Column("datapoints_to_alarm", sa.Integer(), server_default=sa.text("1"), nullable=False),
    sa.Column("treat_missing_data", sa.String(20), server_default=sa.text("'missing'"), nullable=False),
    sa.Column("severity", sa.String(20), server_default=sa.text("'warning'"), nullable=False),
    sa.Column("owner", sa.String(100), nullable=True),
    sa.Column("selector", JSON_DOCUMENT, nullable=True),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("recovery_periods", sa.Integer(), nullable=True),
    sa.Column("flap_transitions", sa.Integer(), nullable=True),
    sa.Column("flap_window_minutes", sa.Integer(), nullable=True),
)
NEW_TABLES = (
    "alert_silences",
    "alert_delivery_attempts",
    "alert_notifications",
    "alert_transitions",
    "alert_states",
    "alert_channels",
    "notification_channels",
)


def upgrade() -> None:
    for column in RULE_COLUMNS:
        op.add_column("alerts", column)
    op.create_index("ix_alerts_name", "alerts", ["name"], unique=True)

    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("config", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_channels"),
        sa.UniqueConstraint("name", name="uq_notification_channels_name"),
    )
    op.create_table(
        "alert_channels",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_channels_alert_id_alerts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name="fk_alert_channels_channel_id_notification_channels",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", "channel_id", name="pk_alert_channels"),
    )
    op.create_table(
        "alert_states",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("resource_type", sa.String(50), nullable=False),
        sa.Column("region", sa.String(50), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("since", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("episode", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("notified_state", sa.String(20), server_default=sa.text("'OK'"), nullable=False),
        sa.Column("flapping", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("recent_transitions", JSON_DOCUMENT, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_states_alert_id_alerts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("alert_id", "resource_id", name="pk_alert_states"),
    )
    op.create_table(
        "alert_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("rule_name", sa.String(200), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("resource_type", sa.String(50), nullable=False),
        sa.Column("region", sa.String(50), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=False),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("datapoints", JSON_DOCUMENT, nullable=False),
        sa.Column("evaluated_at", TIMESTAMP, nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("silenced", sa.Boolean(), nullable=False),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("event_recorded_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_transitions_alert_id_alerts", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_transitions"),
    )
    op.create_index(
        "ix_alert_transitions_alert_id_resource_id_recorded_at",
        "alert_transitions",
        ["alert_id", "resource_id", "recorded_at"],
    )
    op.create_index("ix_alert_transitions_recorded_at", "alert_transitions", ["recorded_at"])
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transition_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("channel_name", sa.String(100), nullable=False),
        sa.Column("channel_type", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("claimed_at", TIMESTAMP, nullable=True),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.Column("receipt", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["transition_id"],
            ["alert_transitions.id"],
            name="fk_alert_notifications_transition_id_alert_transitions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name="fk_alert_notifications_channel_id_notification_channels",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_notifications"),
        sa.UniqueConstraint(
            "transition_id",
            "channel_name",
            "kind",
            name="uq_alert_notifications_transition_id_channel_name_kind",
        ),
    )
    op.create_index(
        "ix_alert_notifications_status_next_attempt_at", "alert_notifications", ["status", "next_attempt_at"]
    )
    op.create_table(
        "alert_delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", TIMESTAMP, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retry_after_seconds", sa.Float(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["alert_notifications.id"],
            name="fk_alert_delivery_attempts_notification_id_alert_notifications",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_delivery_attempts"),
    )
    op.create_index(
        "ix_alert_delivery_attempts_notification_id", "alert_delivery_attempts", ["notification_id"]
    )
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("resource_id", sa.String(255), nullable=True),
        sa.Column("tag_key", sa.String(128), nullable=True),
        sa.Column("tag_value", sa.String(256), nullable=True),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=True),
        sa.Column("weekly_windows", JSON_DOCUMENT, nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_silences_alert_id_alerts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_silences"),
    )


def downgrade() -> None:
    for table in NEW_TABLES:
        op.drop_table(table)
    op.drop_index("ix_alerts_name", table_name="alerts")
    # Not batch mode: SQLite 3.35+ drops a column in place, without rebuilding (and cascading) the table.
    for column in reversed(RULE_COLUMNS):
        op.drop_column("alerts", column.name)
