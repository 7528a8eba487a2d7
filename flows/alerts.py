"""Prefect flow: evaluate every alert rule, send the notifications, record the transitions as events.

The three tasks are separate so each retries on its own: a pass is one transaction (a retry
redoes it or finds nothing new), sending skips what was sent, and events are stored under keys
derived from the transitions, so no retry notifies or records anything twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.health import FAILURE_HOOKS
from oaktree import db, selfmonitoring
from oaktree.alerts.engine import PassReport, record_transition_events, run_pass
from oaktree.alerts.outbox import SendReport, send_pending
from oaktree.config import get_settings


class DeliveriesPending(Exception):
    """Some notifications failed this run and will be tried again; carries the run's report."""

    def __init__(self, report: SendReport) -> None:
        super().__init__(
            "; ".join(f"{error['channel']}: {error['error']}" for error in report.errors)
            or "deliveries pending"
        )
        self.report = report


@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def evaluate_rules_task() -> PassReport:
    """Return what one evaluation pass of every enabled rule recorded (one transaction)."""
    settings = get_settings()
    return run_pass(settings=settings, factory=db.session_factory(settings.sqlalchemy_url))


@task(retries=3, retry_delay_seconds=[10, 30, 60], cache_policy=NO_CACHE)
def send_notifications_task() -> SendReport:
    """Send every due notification; raise (so Prefect retries) while a retryable delivery failed."""
    settings = get_settings()
    report = send_pending(factory=db.session_factory(settings.sqlalchemy_url), settings=settings)
    if report.retry_pending:
        raise DeliveriesPending(report)
    return report


@task(retries=3, retry_delay_seconds=[5, 30, 60], cache_policy=NO_CACHE)
def record_events_task() -> int:
    """Store new transitions in the DynamoDB events table and the warehouse; return how many."""
    settings = get_settings()
    return record_transition_events(factory=db.session_factory(settings.sqlalchemy_url), settings=settings)


# No retries: publishing logs and swallows AWS errors itself (health reporting never fails a run).
@task(cache_policy=NO_CACHE)
def publish_alert_health(evaluation_seconds: float, sent: SendReport | None) -> int:
    """Publish the round's evaluation time and each tried channel's failed deliveries (0s clear alarms)."""
    settings = get_settings()
    calls = selfmonitoring.record_evaluation(evaluation_seconds, settings=settings)
    if sent is not None and sent.by_channel:
        failed = {
            channel: sum(counts.get(outcome, 0) for outcome in ("retrying", "failed", "unknown"))
            for channel, counts in sent.by_channel.items()
        }
        calls += selfmonitoring.record_notifications(failed, settings=settings)
    return calls


def _markdown(report: PassReport, sent: SendReport | None, failure: str | None, events: int) -> str:
    lines = [report.to_markdown(), ""]
    if sent is not None:
        lines += ["| channel | " + " | ".join(("sent", "retrying", "failed", "unknown", "waiting")) + " |"]
        lines += ["| --- | --- | --- | --- | --- | --- |"]
        lines += [
            f"| {channel} | "
            + " | ".join(str(counts.get(k, 0)) for k in ("sent", "retrying", "failed", "unknown", "waiting"))
            + " |"
            for channel, counts in sorted(sent.by_channel.items())
        ]
    if failure:
        lines += ["", f"Sending failed after its retries: {failure}"]
    lines += ["", f"{events} transitions recorded as events."]
    return "\n".join(lines)


@flow(name="evaluate_alerts", log_prints=False, **FAILURE_HOOKS)
def evaluate_alerts() -> dict[str, Any]:
    """Evaluate every enabled rule, send its notifications and record its transitions; publish an artifact."""
    report = evaluate_rules_task()
    sending = send_notifications_task(return_state=True)
    sent: SendReport | None = None
    failure = None
    if sending.is_completed():
        sent = sending.result()
    else:
        error = sending.result(raise_on_failure=False)
        sent = error.report if isinstance(error, DeliveriesPending) else None
        failure = str(error)
    events = record_events_task()
    publish_alert_health(sum(report.seconds.values()), sent)
    create_markdown_artifact(
        key="alerts", markdown=_markdown(report, sent, failure, events), description="Alert evaluation run"
    )
    summary = report.to_dict()
    summary["notifications"] = sent.to_dict() if sent else None
    summary["sending_failure"] = failure
    summary["events_recorded"] = events
    return summary
