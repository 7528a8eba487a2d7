"""The notification outbox: exactly one notification per transition and channel, whatever fails.

Writing: the engine adds a transition and its outbox rows in the same database transaction
(`enqueue`), so either both exist or neither; a retried or re-run pass finds the state already
changed and adds nothing.

Sending (`send_pending`): each row is claimed (`pending` -> `sending`, one conditional UPDATE, so
two senders never both take it), sent, then marked `sent` in its own transaction; a row marked
`sent` is never sent again, so retrying the task is harmless. If the process dies after the
claim, the row is sent again once its lease expires: the one window where a channel can receive
a notification twice, and the reason every channel gets a stable idempotency key (the email's
Message-ID, the webhook's Idempotency-Key, PagerDuty's dedup_key, SNS FIFO's deduplication id).
Slack has none, so a Slack message that may have arrived is marked `unknown` rather than retried.

Order: per channel and alert episode, a row waits until the rows before it are finished, so a
resolve never overtakes its trigger. A 429 holds the whole channel for its Retry-After; one
failing channel never holds the others, and every attempt is kept (`alert_delivery_attempts`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import AlertNotification, AlertTransition, DeliveryAttempt, NotificationChannel
from models.base import utcnow
from oaktree.alerts.channels import ChannelSpec, ChannelType, Senders
from oaktree.alerts.store import channel_from_row
from oaktree.config import Settings
from oaktree.logs import get_logger
from oaktree.notify import DeliveryError

log = get_logger(__name__)


class Kind:
    """What a notification tells a channel."""

    TRIGGER = "trigger"  # the alert fired (entered ALARM)
    RESOLVE = "resolve"  # the alert ended (back to OK, or the rule or resource went away)
    INSUFFICIENT_DATA = "insufficient_data"  # an alarming series stopped reporting


class Status:
    """Where a notification is on its way out."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


UNFINISHED = (Status.PENDING, Status.SENDING)
LABELS = {Kind.TRIGGER: "ALARM", Kind.RESOLVE: "OK", Kind.INSUFFICIENT_DATA: "INSUFFICIENT_DATA"}


def dedup_key(rule_id: int, resource_id: str, episode: int) -> str:
    """Return the key shared by every notification of one alert episode (PagerDuty's dedup_key)."""
    resource = hashlib.sha256(resource_id.encode()).hexdigest()[:16]
    return f"oaktree-{rule_id}-{resource}-{episode}"


def idempotency_key(notification_id: int) -> str:
    """Return the key a receiver can use to drop a repeated delivery of one notification."""
    return f"oaktree-notification-{notification_id}"


def enqueue(
    session: Session,
    *,
    transition: AlertTransition,
    kind: str,
    channels: Iterable[NotificationChannel],
    payload: dict[str, Any],
    key: str,
    now: datetime,
) -> list[AlertNotification]:
    """Add one notification per channel to the session (committed with the transition)."""
    rows = []
    for channel in channels:
        if channel.type == ChannelType.PAGERDUTY and kind == Kind.INSUFFICIENT_DATA:
            continue  # the incident stays open until the resolve; PagerDuty has no "no data" event
        row = AlertNotification(
            transition=transition,
            channel_id=channel.id,
            channel_name=channel.name,
            channel_type=channel.type,
            kind=kind,
            dedup_key=key,
            payload=payload,
            status=Status.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    return rows


def subject_of(payload: dict[str, Any]) -> str:
    """Return the one-line summary of a notification."""
    label = LABELS.get(payload["kind"], payload["kind"])
    resource = payload.get("resource_name") or payload["resource_id"]
    if payload.get("resource_name") and payload["resource_name"] != payload["resource_id"]:
        resource = f"{payload['resource_name']} ({payload['resource_id']})"
    return f"[{label}] {payload['rule']} on {resource}: {payload['from_state']} -> {payload['to_state']}"


def body_of(payload: dict[str, Any]) -> str:
    """Return the plain-text body of a notification (email, SNS)."""
    points = ", ".join(
        "missing" if point["value"] is None else f"{point['value']:.6g} at {point['ts'][11:16]}"
        for point in payload.get("datapoints", [])
    )
    lines = [
        subject_of(payload),
        "",
        f"Rule: {payload['rule']} ({payload['condition']})",
        f"Resource: {payload['resource_id']} ({payload['resource_type']}, {payload['region']})",
        f"Severity: {payload['severity']}",
        f"Why: {payload['reason']}",
        f"Datapoints: {points or 'none'}",
        f"Evaluated through: {payload['evaluated_at']} (UTC)",
        f"Alert key: {payload['dedup_key']}",
    ]
    return "\n".join(lines) + "\n"


def _slack_blocks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{subject_of(payload)}*"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{payload['condition']} · {payload['severity']} · {payload['reason']}",
                }
            ],
        },
    ]


def deliver(senders: Senders, spec: ChannelSpec, row: AlertNotification) -> str:
    """Send one notification through its channel; return the receipt; raise DeliveryError on failure."""
    payload = {**row.payload, "notification_id": row.id}
    if spec.type is ChannelType.EMAIL:
        prefix = spec.config.get("subject_prefix")
        subject = f"{prefix} {subject_of(payload)}" if prefix else subject_of(payload)
        return senders.email(spec).send(
            to=spec.config["to"],
            subject=subject,
            body=body_of(payload),
            message_id=f"<{idempotency_key(row.id)}@oaktree>",
        )
    if spec.type is ChannelType.SLACK:
        return senders.slack(spec).send(text=subject_of(payload), blocks=_slack_blocks(payload))
    if spec.type is ChannelType.WEBHOOK:
        return senders.webhook(spec).send(
            document=payload, idempotency_key=idempotency_key(row.id), event=row.kind
        )
    if spec.type is ChannelType.PAGERDUTY:
        channel = senders.pagerduty(spec)
        document = channel.event(
            action="trigger" if row.kind == Kind.TRIGGER else "resolve",
            dedup_key=row.dedup_key,
            summary=subject_of(payload),
            source=payload["resource_id"],
            severity=payload["severity"],
            timestamp=payload["evaluated_at"],
            details={key: payload[key] for key in ("rule", "condition", "reason", "region", "resource_type")},
        )
        return channel.send(document)
    if spec.type is ChannelType.SNS:
        return senders.sns(spec).send(
            subject=subject_of(payload),
            message=body_of(payload),
            deduplication_id=idempotency_key(row.id),
            group=row.dedup_key,
        )
    raise DeliveryError(f"unknown channel type {spec.type}", retryable=False)


@dataclasses.dataclass
class SendReport:
    """What one sending run did, per notification outcome and per channel."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    waiting: int = 0  # held back behind an earlier notification of the same episode, or a 429
    by_channel: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def count(self, channel: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        per = self.by_channel.setdefault(channel, {})
        per[outcome] = per.get(outcome, 0) + 1

    @property
    def retry_pending(self) -> bool:
        """Return whether some notification failed this run and waits for another attempt."""
        return self.retrying > 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _backoff(settings: Settings, attempts: int, retry_after: float | None) -> timedelta:
    delay = min(
        settings.alert_retry_max_seconds, settings.alert_retry_base_seconds * 2 ** max(0, attempts - 1)
    )
    return timedelta(seconds=max(delay, retry_after or 0.0))


def _unfinished_rows(session: Session) -> list[AlertNotification]:
    """Return the unfinished notifications, oldest first (all of them: order is decided across them)."""
    return list(
        session.scalars(
            select(AlertNotification)
            .where(AlertNotification.status.in_(UNFINISHED))
            .order_by(AlertNotification.id)
            .execution_options(populate_existing=True)
        )
    )


def _claim(factory: sessionmaker[Session], row: AlertNotification, now: datetime, lease: timedelta) -> bool:
    """Mark the row `sending` for this sender, if it is still free; return whether it was claimed."""
    with factory() as session:
        claimed = session.execute(
            update(AlertNotification)
            .where(
                AlertNotification.id == row.id,
                or_(
                    AlertNotification.status == Status.PENDING,
                    (AlertNotification.status == Status.SENDING)
                    & (AlertNotification.claimed_at <= now - lease),
                ),
            )
            .values(status=Status.SENDING, claimed_at=now, attempts=AlertNotification.attempts + 1)
        ).rowcount
        session.commit()
    return bool(claimed)


def _finish(
    factory: sessionmaker[Session],
    notification_id: int,
    *,
    status: str,
    now: datetime,
    outcome: str,
    started: float,
    receipt: str | None = None,
    error: DeliveryError | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "last_error": str(error) if error else None}
    if status == Status.SENT:
        values.update(sent_at=now, receipt=(receipt or "")[:255])
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    with factory() as session:
        session.execute(
            update(AlertNotification).where(AlertNotification.id == notification_id).values(**values)
        )
        session.add(
            DeliveryAttempt(
                notification_id=notification_id,
                attempted_at=now,
                outcome=outcome,
                error=str(error) if error else None,
                retry_after_seconds=error.retry_after if error else None,
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        )
        session.commit()


def _hold_channel(factory: sessionmaker[Session], channel_name: str, until: datetime) -> None:
    """Make every pending notification of a channel wait until `until` (it asked to, with Retry-After)."""
    with factory() as session:
        session.execute(
            update(AlertNotification)
            .where(
                AlertNotification.channel_name == channel_name,
                AlertNotification.status == Status.PENDING,
                AlertNotification.next_attempt_at < until,
            )
            .values(next_attempt_at=until)
        )
        session.commit()


def send_pending(
    *, factory: sessionmaker[Session], settings: Settings, now: datetime | None = None
) -> SendReport:
    """Send every due notification once; return what happened. Safe to run again at any time."""
    now = now or utcnow()
    lease = timedelta(seconds=settings.alert_sending_lease_seconds)
    senders = Senders(settings)
    report = SendReport()
    with factory() as session:
        rows = _unfinished_rows(session)
        channels = {row.id: channel_from_row(row) for row in session.scalars(select(NotificationChannel))}
        session.expunge_all()
    blocked_episodes: set[tuple[str, str]] = set()
    held_channels: dict[str, datetime] = {}
    for row in rows:
        episode = (row.channel_name, row.dedup_key)
        first_of_episode = episode not in blocked_episodes
        blocked_episodes.add(episode)
        due = row.next_attempt_at <= now if row.status == Status.PENDING else row.claimed_at <= now - lease
        if not first_of_episode or not due:
            report.count(row.channel_name, "waiting")
            continue
        if row.channel_name in held_channels:
            report.count(row.channel_name, "waiting")
            continue
        spec = channels.get(row.channel_id) if row.channel_id is not None else None
        started = time.monotonic()
        if spec is None:
            _finish(
                factory,
                row.id,
                status=Status.SKIPPED,
                now=now,
                outcome="failed",
                started=started,
                error=DeliveryError("the channel was deleted", retryable=False),
            )
            report.count(row.channel_name, "skipped")
            blocked_episodes.discard(episode)
            continue
        if not _claim(factory, row, now, lease):
            report.count(row.channel_name, "waiting")  # another sender has it
            continue
        attempts = row.attempts + 1
        try:
            receipt = deliver(senders, spec, row)
        except DeliveryError as error:
            if error.maybe_delivered and not spec.idempotent:
                status, outcome = Status.UNKNOWN, "unknown"
            elif error.retryable and attempts < settings.alert_delivery_max_attempts:
                status, outcome = Status.PENDING, "retrying"
            else:
                status, outcome = Status.FAILED, "failed"
            next_at = (
                now + _backoff(settings, attempts, error.retry_after) if status == Status.PENDING else None
            )
            if error.retry_after:
                held_channels[row.channel_name] = now + timedelta(seconds=error.retry_after)
                _hold_channel(factory, row.channel_name, held_channels[row.channel_name])
            _finish(
                factory,
                row.id,
                status=status,
                now=now,
                outcome="retry" if status == Status.PENDING else outcome,
                started=started,
                error=error,
                next_attempt_at=next_at,
            )
            report.count(row.channel_name, outcome)
            report.errors.append(
                {"notification_id": row.id, "channel": row.channel_name, "error": str(error)}
            )
            log.warning(
                "alerts.delivery_failed",
                channel=row.channel_name,
                notification_id=row.id,
                kind=row.kind,
                status=status,
                error=str(error),
            )
            if status != Status.PENDING:
                blocked_episodes.discard(episode)  # finished: the next of the episode may go
            continue
        _finish(
            factory, row.id, status=Status.SENT, now=now, outcome="sent", started=started, receipt=receipt
        )
        report.count(row.channel_name, "sent")
        blocked_episodes.discard(episode)
        log.info("alerts.notification_sent", channel=row.channel_name, notification_id=row.id, kind=row.kind)
    return report
