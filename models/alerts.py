"""Alerting: rules (the seed's `alerts` table, extended), channels, per-resource state, history, outbox.

The seed's columns come first and keep their meaning (`status` ACTIVE/DISABLED is whether the
rule is evaluated). What a transition produced is kept apart from the rule: a deleted rule's
transitions and deliveries stay in the history (their `alert_id` becomes NULL, the name stays).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.audit import JSON_DOCUMENT
from models.base import Base, utcnow
from models.users import CURRENT_TIMESTAMP


class Alert(Base):
    """An alert rule: a threshold on one metric of one resource, or of every resource a selector matches."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(50))
    # The resource's id, or "*" when `selector` picks the resources (a fleet rule).
    resource_id: Mapped[str] = mapped_column(String(100))
    metric_name: Mapped[str] = mapped_column(String(100))
    threshold: Mapped[Decimal] = mapped_column(Numeric)
    # CloudWatch operator names, e.g. GreaterThanThreshold or LessThanLowerOrGreaterThanUpperThreshold
    # (40 characters; widened from the seed's 20 by migration 0004).
    comparison_operator: Mapped[str] = mapped_column(String(64))
    # ACTIVE: evaluated; DISABLED: kept but not evaluated.
    status: Mapped[str | None] = mapped_column(String(20), default="ACTIVE", server_default=text("'ACTIVE'"))
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow, server_default=CURRENT_TIMESTAMP)
    updated_at: Mapped[datetime | None] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=CURRENT_TIMESTAMP
    )
    # Added by migration 0003. Nullable so other tools can still insert rules as the seed allows;
    # OakTree's services always name a rule, and names are unique.
    name: Mapped[str | None] = mapped_column(String(200), index=True, unique=True)
    statistic: Mapped[str] = mapped_column(String(20), default="Average", server_default=text("'Average'"))
    period_seconds: Mapped[int] = mapped_column(Integer, default=300, server_default=text("300"))
    evaluation_periods: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    datapoints_to_alarm: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    treat_missing_data: Mapped[str] = mapped_column(
        String(20), default="missing", server_default=text("'missing'")
    )
    severity: Mapped[str] = mapped_column(String(20), default="warning", server_default=text("'warning'"))
    owner: Mapped[str | None] = mapped_column(String(100))
    # {"region": "us-east-1" | null, "tags": {"env": "prod"}}; NULL for a rule on one resource.
    selector: Mapped[dict[str, Any] | None] = mapped_column(JSON_DOCUMENT)
    description: Mapped[str | None] = mapped_column(Text)
    # Hysteresis: once in ALARM, stay until this many of the evaluated periods are clear.
    recovery_periods: Mapped[int | None] = mapped_column(Integer)
    # Flap detection: more than `flap_transitions` transitions in `flap_window_minutes` holds notifications.
    flap_transitions: Mapped[int | None] = mapped_column(Integer)
    flap_window_minutes: Mapped[int | None] = mapped_column(Integer)


class NotificationChannel(Base):
    """Where notifications go: an email list, a Slack or generic webhook, PagerDuty or an SNS topic.

    `config` holds the channel's fields; a secret field holds either the value or a reference
    (`secretsmanager:<id>`, `env:<VARIABLE>`) resolved only when sending.
    """

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertChannel(Base):
    """A rule notifies a channel."""

    __tablename__ = "alert_channels"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), primary_key=True
    )


class AlertState(Base):
    """The current state of one rule on one resource, and what its channels were last told.

    Only rule-resources that ever left INSUFFICIENT_DATA have a row. `notified_state` is the
    state the channels last heard about: notifications are what it takes to bring it in line
    with `state`, which is how a silence or a flap that ends sends exactly one catch-up.
    """

    __tablename__ = "alert_states"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(50))
    region: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(20))
    since: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    # Counts the alert's episodes (entries into ALARM after a recovery): PagerDuty's dedup_key.
    episode: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    notified_state: Mapped[str] = mapped_column(String(20), default="OK", server_default=text("'OK'"))
    flapping: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # ISO timestamps of the transitions inside the flap window.
    recent_transitions: Mapped[list[str]] = mapped_column(JSON_DOCUMENT, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertTransition(Base):
    """One state change of one rule on one resource: why, and the datapoints it looked at."""

    __tablename__ = "alert_transitions"
    __table_args__ = (Index(None, "alert_id", "resource_id", "recorded_at"), Index(None, "recorded_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    rule_name: Mapped[str] = mapped_column(String(200))
    resource_id: Mapped[str] = mapped_column(String(255))
    resource_type: Mapped[str] = mapped_column(String(50))
    region: Mapped[str] = mapped_column(String(50))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    # [{"ts": ISO start of the period, "value": float | null, "breaching": bool | null, "filled": bool}]
    datapoints: Mapped[list[dict[str, Any]]] = mapped_column(JSON_DOCUMENT, default=list)
    # End of the newest period the evaluation used (data time); `recorded_at` is wall-clock time.
    evaluated_at: Mapped[datetime] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    severity: Mapped[str] = mapped_column(String(20))
    episode: Mapped[int] = mapped_column(Integer, default=0)
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set once the transition is in the DynamoDB events table and the warehouse.
    event_recorded_at: Mapped[datetime | None] = mapped_column()


class AlertNotification(Base):
    """The outbox: one notification of one transition to one channel, written with the transition.

    Status: pending -> sending (claimed by a sender) -> sent | failed (gave up) | unknown (the
    channel may have received it and has no idempotency key, so it is not retried) | skipped.
    A failed attempt puts it back to `pending` with a later `next_attempt_at`.
    """

    __tablename__ = "alert_notifications"
    __table_args__ = (
        UniqueConstraint("transition_id", "channel_name", "kind"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transition_id: Mapped[int] = mapped_column(ForeignKey("alert_transitions.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="SET NULL")
    )
    channel_name: Mapped[str] = mapped_column(String(100))
    channel_type: Mapped[str] = mapped_column(String(20))
    # trigger | resolve | insufficient_data
    kind: Mapped[str] = mapped_column(String(20))
    # One per rule, resource and episode: PagerDuty's dedup_key, the webhook's idempotency key prefix.
    dedup_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    # What the channel answered: a Message-ID, an SNS MessageId, an HTTP status.
    receipt: Mapped[str | None] = mapped_column(String(255))

    transition: Mapped[AlertTransition] = relationship()


class DeliveryAttempt(Base):
    """One attempt to deliver a notification: its outcome and, when it failed, why."""

    __tablename__ = "alert_delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("alert_notifications.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column()
    # sent | retry | failed | unknown
    outcome: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    retry_after_seconds: Mapped[float | None] = mapped_column(Float)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class Silence(Base):
    """Holds notifications of matching rule-resources while active; transitions are still recorded.

    Matches every condition given (rule, resource, tag). Active from `starts_at` until `ends_at`
    (or for ever), and with `weekly_windows` only inside those windows: a maintenance window.
    """

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    tag_key: Mapped[str | None] = mapped_column(String(128))
    tag_value: Mapped[str | None] = mapped_column(String(256))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    # [{"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM"}] in `timezone`.
    weekly_windows: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON_DOCUMENT)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when someone ends the silence early.
    ended_at: Mapped[datetime | None] = mapped_column()
