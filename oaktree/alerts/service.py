"""Alert management for the dashboard and the CLI: rules, channels, silences, backtests, history.

Every function is keyword-only and takes the calling `Principal`. Those that change anything
check `Permission.MANAGE_ALERTS` themselves (a viewer cannot create, change or silence, whatever
the page shows), write an audit entry, and commit one transaction; nothing is stored when one
raises. Bad input raises `InvalidRule`, `InvalidChannel` or `InvalidSilence`, whose `errors`
map each form field to its message.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import duckdb
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models import (
    Alert,
    AlertChannel,
    AlertNotification,
    AlertState,
    AlertTransition,
    DeliveryAttempt,
    NotificationChannel,
    Silence,
)
from models.base import utcnow
from oaktree.alerts.backtest import BacktestResult, backtest
from oaktree.alerts.channels import ChannelSpec, InvalidChannel, parse_channel
from oaktree.alerts.engine import close_targets
from oaktree.alerts.rules import InvalidRule, Rule, parse_rule
from oaktree.alerts.silences import SilenceSpec, parse_silence
from oaktree.alerts.store import (
    channel_from_row,
    channel_names_by_rule,
    load_channels,
    load_rules,
    lock_alerts,
    rule_from_row,
    silence_from_row,
    write_rule,
)
from oaktree.auth import audit
from oaktree.auth.roles import Permission, Principal, require
from oaktree.config import Settings
from oaktree.warehouse.lake import connect


class RuleNotFound(LookupError):
    """No rule has the given id or name."""


class SilenceNotFound(LookupError):
    """No silence has the given id."""


RuleRef = int | str


def _rule_row(session: Session, rule: RuleRef) -> Alert:
    query = (
        select(Alert).where(Alert.id == rule)
        if isinstance(rule, int)
        else select(Alert).where(Alert.name == rule)
    )
    row = session.scalars(query.execution_options(populate_existing=True)).first()
    if row is None:
        raise RuleNotFound(f"no rule {rule!r}")
    return row


def _channel_rows(session: Session, rule: Rule) -> list[NotificationChannel]:
    """Return the rule's channel rows; raise InvalidRule naming the channels that do not exist."""
    known = load_channels(session)
    unknown = [name for name in rule.channels if name not in known]
    if unknown:
        raise InvalidRule({"channels": f"unknown channel(s): {', '.join(unknown)}; define them first"})
    return [known[name] for name in rule.channels]


def _name_taken(session: Session, name: str, *, other_than: int | None = None) -> bool:
    query = select(Alert.id).where(Alert.name == name)
    if other_than is not None:
        query = query.where(Alert.id != other_than)
    return session.scalar(query) is not None


def _link_channels(session: Session, rule_id: int, channels: list[NotificationChannel]) -> None:
    session.execute(delete(AlertChannel).where(AlertChannel.alert_id == rule_id))
    session.add_all(AlertChannel(alert_id=rule_id, channel_id=channel.id) for channel in channels)


def _stored_rule(session: Session, row: Alert) -> Rule:
    return rule_from_row(row, channel_names_by_rule(session).get(row.id, []))


def insert_rule(session: Session, *, principal: Principal, rule: Rule, now: datetime) -> Rule:
    """Store a validated new rule in the caller's transaction (which holds the alerts lock); return it."""
    channels = _channel_rows(session, rule)
    if _name_taken(session, rule.name):
        raise InvalidRule({"name": f"{rule.name!r} is already used by another rule"})
    row = Alert(user_id=principal.user_id)
    write_rule(row, rule)
    session.add(row)
    session.flush()
    _link_channels(session, row.id, channels)
    audit.record(
        session, actor=principal, action="alert.created", target=rule.name, at=now, details=rule.to_draft()
    )
    return dataclasses.replace(rule, id=row.id)


_TARGET_FIELDS = ("resource_type", "resource_id", "selector", "metric_name", "statistic", "period")


def replace_rule(session: Session, *, principal: Principal, row: Alert, new: Rule, now: datetime) -> Rule:
    """Give a stored rule a new definition in the caller's transaction (which holds the alerts lock).

    Changing what the rule watches (resource, selector, metric, statistic, period) or disabling
    it ends its open alerts with a resolve; other changes keep the states and apply at the next pass.
    """
    new = dataclasses.replace(new, id=row.id)
    old = _stored_rule(session, row)
    if old == new:
        return new
    channels = _channel_rows(session, new)
    if _name_taken(session, new.name, other_than=row.id):
        raise InvalidRule({"name": f"{new.name!r} is already used by another rule"})
    watched_changed = any(getattr(old, name) != getattr(new, name) for name in _TARGET_FIELDS)
    if old.enabled and (not new.enabled or watched_changed):
        why = "rule disabled" if not new.enabled else "rule changed what it watches"
        close_targets(session, rule=old, reason=why, now=now)
    write_rule(row, new)
    _link_channels(session, row.id, channels)
    before, after = old.to_draft(), new.to_draft()
    changes = {key: value for key, value in after.items() if before.get(key) != value}
    changes |= {key: None for key in before if key not in after}
    audit.record(session, actor=principal, action="alert.updated", target=new.name, at=now, details=changes)
    return new


def remove_rule(session: Session, *, principal: Principal, row: Alert, now: datetime) -> None:
    """Delete a rule in the caller's transaction, resolving its open alerts first; its history stays."""
    current = _stored_rule(session, row)
    close_targets(session, rule=current, reason="rule deleted", now=now)
    session.flush()  # the states' updates must reach the database before the cascade removes them
    audit.record(session, actor=principal, action="alert.deleted", target=current.name, at=now)
    session.delete(row)


def create_rule(
    *, session: Session, principal: Principal, draft: Mapping[str, Any], now: datetime | None = None
) -> Rule:
    """Validate a draft rule and store it; return the stored rule (with its id)."""
    require(principal, Permission.MANAGE_ALERTS)
    rule = parse_rule(draft)
    try:
        lock_alerts(session)
        stored = insert_rule(session, principal=principal, rule=rule, now=now or utcnow())
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return stored


def update_rule(
    *,
    session: Session,
    principal: Principal,
    rule: RuleRef,
    draft: Mapping[str, Any],
    now: datetime | None = None,
) -> Rule:
    """Replace a rule's definition with a draft (all fields); return the stored rule."""
    require(principal, Permission.MANAGE_ALERTS)
    try:
        lock_alerts(session)
        row = _rule_row(session, rule)
        stored = replace_rule(
            session, principal=principal, row=row, new=parse_rule(draft), now=now or utcnow()
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return stored


def set_rule_enabled(
    *, session: Session, principal: Principal, rule: RuleRef, enabled: bool, now: datetime | None = None
) -> Rule:
    """Enable or disable a rule; disabling resolves its open alerts. Return the stored rule."""
    require(principal, Permission.MANAGE_ALERTS)
    now = now or utcnow()
    try:
        lock_alerts(session)
        row = _rule_row(session, rule)
        current = _stored_rule(session, row)
        if current.enabled != enabled:
            if not enabled:
                close_targets(session, rule=current, reason="rule disabled", now=now)
            row.status = "ACTIVE" if enabled else "DISABLED"
            audit.record(
                session,
                actor=principal,
                action="alert.enabled" if enabled else "alert.disabled",
                target=current.name,
                at=now,
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return dataclasses.replace(current, enabled=enabled)


def delete_rule(
    *, session: Session, principal: Principal, rule: RuleRef, now: datetime | None = None
) -> None:
    """Delete a rule, resolving its open alerts first; its history stays (under its name)."""
    require(principal, Permission.MANAGE_ALERTS)
    try:
        lock_alerts(session)
        remove_rule(session, principal=principal, row=_rule_row(session, rule), now=now or utcnow())
        session.commit()
    except BaseException:
        session.rollback()
        raise


def get_rule(*, session: Session, principal: Principal, rule: RuleRef) -> Rule:
    """Return one rule."""
    require(principal, Permission.VIEW)
    return _stored_rule(session, _rule_row(session, rule))


def _state_record(row: AlertState) -> dict[str, Any]:
    return {
        "resource_id": row.resource_id,
        "resource_type": row.resource_type,
        "region": row.region,
        "state": row.state,
        "since": row.since,
        "reason": row.reason,
        "flapping": row.flapping,
        "notified_state": row.notified_state,
        "episode": row.episode,
    }


def list_rules(*, session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Return every rule with its fields, and its current state on each resource it has evaluated."""
    require(principal, Permission.VIEW)
    states: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in session.scalars(select(AlertState).order_by(AlertState.resource_id)):
        states[row.alert_id].append(_state_record(row))
    listed = []
    for rule in load_rules(session):
        assert rule.id is not None
        per_resource = states.get(rule.id, [])
        counts = {
            state: sum(s["state"] == state for s in per_resource)
            for state in ("ALARM", "OK", "INSUFFICIENT_DATA")
        }
        listed.append(
            {
                "id": rule.id,
                **rule.to_draft(),
                "enabled": rule.enabled,
                "states": per_resource,
                "counts": counts,
            }
        )
    return listed


def rule_states(*, session: Session, principal: Principal, resource_id: str) -> list[dict[str, Any]]:
    """Return the state of every rule on one resource (for a resource's page)."""
    require(principal, Permission.VIEW)
    names = {row.id: row.name for row in session.scalars(select(Alert))}
    rows = session.scalars(select(AlertState).where(AlertState.resource_id == resource_id))
    return sorted(
        ({"rule": names.get(row.alert_id), "rule_id": row.alert_id, **_state_record(row)} for row in rows),
        key=lambda record: str(record["rule"]),
    )


def backtest_rule(
    *,
    principal: Principal,
    draft: Mapping[str, Any] | Rule,
    settings: Settings,
    days: float = 7,
    now: datetime | None = None,
    warehouse: duckdb.DuckDBPyConnection | None = None,
) -> BacktestResult:
    """Replay a draft (or stored) rule over the last `days` of stored history; nothing is saved."""
    require(principal, Permission.VIEW)
    rule = draft if isinstance(draft, Rule) else parse_rule(draft)
    if not 0 < days <= settings.warehouse_retention_1d_days:
        raise InvalidRule({"days": f"must be between 0 and {settings.warehouse_retention_1d_days}"})
    now = now or utcnow()
    connection = warehouse or connect(settings=settings)
    try:
        return backtest(
            rule,
            connection,
            start=now - timedelta(days=days),
            end=now - timedelta(seconds=settings.alert_settle_seconds),
            now=now,
            minute_retention=timedelta(days=settings.warehouse_retention_1m_days),
        )
    finally:
        if warehouse is None:
            connection.close()


def list_channels(*, session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Return every channel, secret values masked (references shown)."""
    require(principal, Permission.VIEW)
    return [
        channel_from_row(row).shown() for row in sorted(load_channels(session).values(), key=lambda r: r.name)
    ]


def store_channel(session: Session, *, principal: Principal, spec: ChannelSpec, now: datetime) -> str:
    """Create or replace a channel in the caller's transaction; return `created`, `updated` or `unchanged`."""
    row = load_channels(session).get(spec.name)
    if row is not None and channel_from_row(row) == spec:
        return "unchanged"
    outcome = "created" if row is None else "updated"
    if row is None:
        row = NotificationChannel(name=spec.name, created_at=now)
        session.add(row)
    row.type = spec.type.value
    row.config = spec.config
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=principal,
        action=f"alert_channel.{outcome}",
        target=spec.name,
        at=now,
        details=spec.shown(),
    )
    return outcome


def put_channel(
    *, session: Session, principal: Principal, draft: Mapping[str, Any], now: datetime | None = None
) -> tuple[ChannelSpec, str]:
    """Create or replace the channel named in the draft; return it and `created`, `updated` or `unchanged`."""
    require(principal, Permission.MANAGE_ALERTS)
    spec = parse_channel(draft)
    try:
        lock_alerts(session)
        outcome = store_channel(session, principal=principal, spec=spec, now=now or utcnow())
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return spec, outcome


def delete_channel(*, session: Session, principal: Principal, name: str, now: datetime | None = None) -> None:
    """Delete a channel no rule uses (refused with the rules' names otherwise)."""
    require(principal, Permission.MANAGE_ALERTS)
    try:
        lock_alerts(session)
        row = load_channels(session).get(name)
        if row is None:
            raise InvalidChannel({"name": f"no channel named {name!r}"})
        users = sorted(
            session.scalars(
                select(Alert.name)
                .join(AlertChannel, AlertChannel.alert_id == Alert.id)
                .where(AlertChannel.channel_id == row.id)
            )
        )
        if users:
            raise InvalidChannel({"name": f"used by rule(s) {', '.join(map(str, users))}"})
        audit.record(
            session, actor=principal, action="alert_channel.deleted", target=name, at=now or utcnow()
        )
        session.delete(row)
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _silence_record(row: Silence, rule_names: Mapping[int, str | None], now: datetime) -> dict[str, Any]:
    spec = silence_from_row(row)
    return {
        "id": row.id,
        "rule": rule_names.get(row.alert_id) if row.alert_id else None,
        "resource_id": row.resource_id,
        "tag": f"{row.tag_key}={row.tag_value}" if row.tag_key else None,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "weekly_windows": row.weekly_windows or [],
        "timezone": row.timezone,
        "comment": row.comment,
        "created_by": row.created_by,
        "ended_at": row.ended_at,
        "active": spec.active(now),
        "expired": spec.expired(now),
    }


def list_silences(
    *, session: Session, principal: Principal, include_expired: bool = False, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Return the silences (by default only those that are active or may still become active)."""
    require(principal, Permission.VIEW)
    now = now or utcnow()
    names = {row.id: row.name for row in session.scalars(select(Alert))}
    records = [
        _silence_record(row, names, now) for row in session.scalars(select(Silence).order_by(Silence.id))
    ]
    return [record for record in records if include_expired or not record["expired"]]


def create_silence(
    *, session: Session, principal: Principal, draft: Mapping[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    """Validate and store a silence or maintenance window; return it."""
    require(principal, Permission.MANAGE_ALERTS)
    now = now or utcnow()
    try:
        lock_alerts(session)
        names = {row.name: row.id for row in session.scalars(select(Alert)) if row.name}
        spec: SilenceSpec = parse_silence(draft, now=now, rule_ids=names)
        row = Silence(
            alert_id=spec.rule_id,
            resource_id=spec.resource_id,
            tag_key=spec.tag[0] if spec.tag else None,
            tag_value=spec.tag[1] if spec.tag else None,
            starts_at=spec.starts_at,
            ends_at=spec.ends_at,
            weekly_windows=[window.to_dict() for window in spec.windows] or None,
            timezone=spec.timezone,
            comment=spec.comment,
            created_by=principal.username,
            created_at=now,
        )
        session.add(row)
        session.flush()
        record = _silence_record(row, {v: k for k, v in names.items()}, now)
        audit.record(
            session,
            actor=principal,
            action="alert_silence.created",
            target=str(row.id),
            at=now,
            details={
                key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in record.items()
                if key in {"rule", "resource_id", "tag", "starts_at", "ends_at", "weekly_windows", "timezone"}
            },
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return record


def end_silence(
    *, session: Session, principal: Principal, silence_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """End a silence now; the next pass sends what it held if the state moved on. Return it."""
    require(principal, Permission.MANAGE_ALERTS)
    now = now or utcnow()
    try:
        lock_alerts(session)
        row = session.get(Silence, silence_id)
        if row is None:
            raise SilenceNotFound(f"no silence {silence_id}")
        if row.ended_at is None:
            row.ended_at = now
            audit.record(
                session, actor=principal, action="alert_silence.ended", target=str(silence_id), at=now
            )
        names = {r.id: r.name for r in session.scalars(select(Alert))}
        record = _silence_record(row, names, now)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return record


def list_history(
    *,
    session: Session,
    principal: Principal,
    rule: RuleRef | None = None,
    resource_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Return transitions, newest first, each with its notifications and their delivery attempts."""
    require(principal, Permission.VIEW)
    query = select(AlertTransition).order_by(AlertTransition.id.desc()).limit(max(1, min(limit, 5000)))
    if isinstance(rule, int):
        query = query.where(AlertTransition.alert_id == rule)
    elif isinstance(rule, str):
        query = query.where(AlertTransition.rule_name == rule)
    if resource_id is not None:
        query = query.where(AlertTransition.resource_id == resource_id)
    transitions = list(session.scalars(query))
    ids = [row.id for row in transitions]
    notifications: dict[int, list[AlertNotification]] = defaultdict(list)
    attempts: dict[int, list[DeliveryAttempt]] = defaultdict(list)
    if ids:
        for row in session.scalars(
            select(AlertNotification)
            .where(AlertNotification.transition_id.in_(ids))
            .order_by(AlertNotification.id)
        ):
            notifications[row.transition_id].append(row)
        notification_ids = [row.id for rows in notifications.values() for row in rows]
        if notification_ids:
            for attempt in session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.notification_id.in_(notification_ids))
                .order_by(DeliveryAttempt.id)
            ):
                attempts[attempt.notification_id].append(attempt)
    return [
        {
            "id": row.id,
            "rule": row.rule_name,
            "rule_id": row.alert_id,
            "resource_id": row.resource_id,
            "resource_type": row.resource_type,
            "region": row.region,
            "from": row.from_state,
            "to": row.to_state,
            "reason": row.reason,
            "datapoints": row.datapoints,
            "evaluated_at": row.evaluated_at,
            "recorded_at": row.recorded_at,
            "severity": row.severity,
            "episode": row.episode,
            "silenced": row.silenced,
            "flapping": row.flapping,
            "notifications": [
                {
                    "id": note.id,
                    "channel": note.channel_name,
                    "channel_type": note.channel_type,
                    "kind": note.kind,
                    "status": note.status,
                    "attempts": note.attempts,
                    "last_error": note.last_error,
                    "created_at": note.created_at,
                    "sent_at": note.sent_at,
                    "next_attempt_at": note.next_attempt_at,
                    "receipt": note.receipt,
                    "dedup_key": note.dedup_key,
                    "delivery_attempts": [
                        {
                            "at": attempt.attempted_at,
                            "outcome": attempt.outcome,
                            "error": attempt.error,
                            "retry_after_seconds": attempt.retry_after_seconds,
                            "duration_ms": attempt.duration_ms,
                        }
                        for attempt in attempts.get(note.id, [])
                    ],
                }
                for note in notifications.get(row.id, [])
            ],
        }
        for row in transitions
    ]


def delivery_summary(*, session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Return, per channel, its notifications by status and its newest error: a failing channel shows."""
    require(principal, Permission.VIEW)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for channel, status, count in session.execute(
        select(AlertNotification.channel_name, AlertNotification.status, func.count()).group_by(
            AlertNotification.channel_name, AlertNotification.status
        )
    ):
        counts[channel][status] = count
    last_errors: dict[str, tuple[datetime, str]] = {}
    for channel, at, error in session.execute(
        select(AlertNotification.channel_name, DeliveryAttempt.attempted_at, DeliveryAttempt.error)
        .join(AlertNotification, AlertNotification.id == DeliveryAttempt.notification_id)
        .where(DeliveryAttempt.error.is_not(None))
        .order_by(DeliveryAttempt.id)
    ):
        last_errors[channel] = (at, error)
    return [
        {
            "channel": channel,
            "by_status": counts[channel],
            "last_error": last_errors.get(channel, (None, None))[1],
            "last_error_at": last_errors.get(channel, (None, None))[0],
        }
        for channel in sorted(counts)
    ]
