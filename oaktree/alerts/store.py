"""Rules, channels and silences in the application database: conversions and the alerts lock.

The engine, the sender and the services all read rules through `load_rules`, so a rule means
the same thing everywhere; writers hold the alerts lock (`lock_alerts`) from their first read
to their commit, so a pass and a rule change never interleave.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Alert, AlertChannel, NotificationChannel, Silence
from oaktree.alerts.channels import ChannelSpec, ChannelType
from oaktree.alerts.rules import FLEET, ComparisonOperator, Rule, Selector, TreatMissingData
from oaktree.alerts.silences import SilenceSpec, windows_from_records

ACTIVE, DISABLED = "ACTIVE", "DISABLED"
# PostgreSQL advisory lock ids share one namespace per database: derive ours from a name.
ALERTS_LOCK_ID = int.from_bytes(
    hashlib.blake2b(b"oaktree.alerts", digest_size=8).digest(), "big", signed=True
)


def lock_alerts(session: Session) -> None:
    """Take the alerts lock until the transaction ends (a PostgreSQL advisory lock, SQLite's write lock)."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(ALERTS_LOCK_ID)))
    elif dialect == "sqlite":
        # The sqlite3 module begins a transaction only before a write; take the write lock up front.
        if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        raise NotImplementedError(f"no alerts lock for the {dialect} dialect")


_OPERATORS = {op.value: op for op in ComparisonOperator}
_TREATMENTS = {treatment.value: treatment for treatment in TreatMissingData}


# The columns a Rule is made of: a pass loads every rule each minute, so it reads these only.
RULE_COLUMNS = (
    "id",
    "name",
    "description",
    "resource_type",
    "resource_id",
    "metric_name",
    "statistic",
    "period_seconds",
    "evaluation_periods",
    "datapoints_to_alarm",
    "threshold",
    "comparison_operator",
    "treat_missing_data",
    "severity",
    "owner",
    "status",
    "recovery_periods",
    "flap_transitions",
    "flap_window_minutes",
)
_SELECTOR_ON_ROW = object()


def rule_from_row(row: Any, channels: list[str], selector: Any = _SELECTOR_ON_ROW) -> Rule:
    """Return the rule a stored `alerts` row holds: an `Alert`, or a plain row of RULE_COLUMNS and
    its selector (None for a single-resource rule)."""
    if selector is _SELECTOR_ON_ROW:
        selector = row.selector
    return Rule(
        id=row.id,
        name=row.name or f"alert-{row.id}",
        description=row.description,
        resource_type=row.resource_type,
        resource_id=None if row.resource_id == FLEET else row.resource_id,
        selector=Selector.from_dict(selector) if selector is not None else None,
        metric_name=row.metric_name,
        statistic=row.statistic,
        period=row.period_seconds,
        evaluation_periods=row.evaluation_periods,
        datapoints_to_alarm=row.datapoints_to_alarm,
        threshold=float(row.threshold),
        comparison_operator=_OPERATORS[row.comparison_operator],
        treat_missing_data=_TREATMENTS[row.treat_missing_data],
        severity=row.severity,
        channels=tuple(sorted(channels)),
        owner=row.owner,
        enabled=row.status != DISABLED,
        recovery_periods=row.recovery_periods,
        flap_transitions=row.flap_transitions,
        flap_window_minutes=row.flap_window_minutes,
    )


def write_rule(row: Alert, rule: Rule) -> None:
    """Copy a rule's fields onto its row (channels are links, written by the caller)."""
    row.name = rule.name
    row.description = rule.description
    row.resource_type = rule.resource_type
    row.resource_id = rule.resource_id or FLEET
    row.selector = rule.selector.to_dict() if rule.selector else None
    row.metric_name = rule.metric_name
    row.statistic = rule.statistic
    row.period_seconds = rule.period
    row.evaluation_periods = rule.evaluation_periods
    row.datapoints_to_alarm = rule.datapoints_to_alarm
    row.threshold = Decimal(repr(rule.threshold))
    row.comparison_operator = rule.comparison_operator.value
    row.treat_missing_data = rule.treat_missing_data.value
    row.severity = rule.severity
    row.owner = rule.owner
    row.status = ACTIVE if rule.enabled else DISABLED
    row.recovery_periods = rule.recovery_periods
    row.flap_transitions = rule.flap_transitions
    row.flap_window_minutes = rule.flap_window_minutes


def channel_names_by_rule(session: Session) -> dict[int, list[str]]:
    """Return every rule's channel names."""
    names: dict[int, list[str]] = defaultdict(list)
    rows = session.execute(
        select(AlertChannel.alert_id, NotificationChannel.name).join(
            NotificationChannel, NotificationChannel.id == AlertChannel.channel_id
        )
    )
    for alert_id, name in rows:
        names[alert_id].append(name)
    return names


def load_rules(session: Session, *, enabled_only: bool = False) -> list[Rule]:
    """Return the stored rules (ordered by name), with their channel names."""
    # Plain rows of the rule's columns only, not ORM objects, and selectors only for fleet rules:
    # a pass loads every rule each minute, and 10,000 ORM objects (or JSON documents, or
    # timestamps no rule needs) cost seconds.
    table = Alert.__table__
    query = select(*(table.c[name] for name in RULE_COLUMNS)).order_by(table.c.name, table.c.id)
    if enabled_only:
        query = query.where(table.c.status != DISABLED)
    selectors = dict(
        session.execute(select(table.c.id, table.c.selector).where(table.c.resource_id == FLEET)).all()
    )
    links = channel_names_by_rule(session)
    return [
        rule_from_row(row, links.get(row.id, []), selectors.get(row.id)) for row in session.execute(query)
    ]


def channel_from_row(row: NotificationChannel) -> ChannelSpec:
    """Return the channel a stored row holds."""
    return ChannelSpec(name=row.name, type=ChannelType(row.type), config=dict(row.config))


def load_channels(session: Session) -> dict[str, NotificationChannel]:
    """Return every channel row by name."""
    return {row.name: row for row in session.scalars(select(NotificationChannel))}


def silence_from_row(row: Silence) -> SilenceSpec:
    """Return the silence a stored row holds."""
    return SilenceSpec(
        id=row.id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        rule_id=row.alert_id,
        resource_id=row.resource_id,
        tag=(row.tag_key, row.tag_value or "") if row.tag_key else None,
        windows=windows_from_records(row.weekly_windows),
        timezone=row.timezone,
        comment=row.comment,
        ended_at=row.ended_at,
    )


def load_silences(session: Session) -> list[SilenceSpec]:
    """Return the silences that were not ended early."""
    return [
        silence_from_row(row) for row in session.scalars(select(Silence).where(Silence.ended_at.is_(None)))
    ]
