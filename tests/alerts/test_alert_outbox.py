"""Exactly once under failures, with real receivers: SMTP and HTTP servers on loopback, SNS on moto."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models import AlertNotification
from oaktree.alerts import service
from oaktree.alerts.engine import run_pass
from oaktree.alerts.outbox import send_pending
from oaktree.config import Settings, load_settings
from sandbox.sinks import MailSink, ScriptedAnswer, WebhookSink, free_port
from tests.alerts.conftest import OPERATOR
from tests.alerts.estate import API, MINUTE, NOW, WEB, cpu_rule, minute_points, write

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def mail() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


def _fire(
    session: Session, settings: Settings, factory: sessionmaker[Session], *channels: dict, **rule: object
) -> None:
    """Define the channels and a rule on them, and run the pass that fires it on the web instance."""
    for channel in channels:
        service.put_channel(session=session, principal=OPERATOR, draft=channel)
    names = [channel["name"] for channel in channels]
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=names, **rule))
    run_pass(settings=settings, factory=factory, now=NOW)


def _notes(session: Session) -> list[AlertNotification]:
    session.expire_all()
    return list(session.scalars(select(AlertNotification).order_by(AlertNotification.id)))


def _mail_channel(sink: MailSink) -> dict:
    return {
        "name": "mail",
        "type": "email",
        "to": ["ops@example.com", "oncall@example.com"],
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "starttls": False,
    }


def test_webhook_500_then_200_delivers_once_and_keeps_both_attempts(
    estate: Settings, factory: sessionmaker[Session], session: Session, hook: WebhookSink
) -> None:
    _fire(session, estate, factory, {"name": "hook", "type": "webhook", "url": f"{hook.url}/hooks/oaktree"})
    hook.script(ScriptedAnswer(500, body={"error": "database down"}))

    first = send_pending(factory=factory, settings=estate, now=NOW)
    second = send_pending(factory=factory, settings=estate, now=NOW + MINUTE)
    third = send_pending(factory=factory, settings=estate, now=NOW + 2 * MINUTE)

    assert (first.retrying, second.sent, third.sent + third.retrying) == (1, 1, 0)
    requests = hook.received()
    assert [r["status"] for r in requests] == [500, 200]
    assert len(hook.received(accepted_only=True)) == 1
    # Both attempts carry the same key, so a receiver could drop a repeat.
    assert requests[0]["headers"]["Idempotency-Key"] == requests[1]["headers"]["Idempotency-Key"]
    body = requests[1]["body"]
    assert (body["rule"], body["resource_id"], body["from_state"], body["to_state"], body["kind"]) == (
        "high-cpu",
        "i-web",
        "INSUFFICIENT_DATA",
        "ALARM",
        "trigger",
    )
    [transition] = service.list_history(session=session, principal=OPERATOR, resource_id="i-web")
    [note] = transition["notifications"]
    assert (note["status"], note["attempts"], note["receipt"]) == ("sent", 2, "200")
    assert [(a["outcome"], a["error"]) for a in note["delivery_attempts"]] == [
        ("retry", 'the webhook answered 500: {"error": "database down"}'),
        ("sent", None),
    ]


def test_a_rate_limited_channel_waits_its_retry_after_and_never_holds_the_others(
    estate: Settings, factory: sessionmaker[Session], session: Session, hook: WebhookSink, mail: MailSink
) -> None:
    write(estate, minute_points(API, [95] * 10))  # both prod instances fire: two notifications per channel
    _fire(
        session,
        estate,
        factory,
        {"name": "slack", "type": "slack", "url": f"{hook.url}/services/T/B/X"},
        _mail_channel(mail),
    )
    hook.script(ScriptedAnswer(429, headers={"Retry-After": "120"}, body={"ok": False}))

    report = send_pending(factory=factory, settings=estate, now=NOW)

    assert report.by_channel == {"slack": {"retrying": 1, "waiting": 1}, "mail": {"sent": 2}}
    assert len(mail.received()) == 2 and len(hook.received()) == 1
    waiting = send_pending(factory=factory, settings=estate, now=NOW + MINUTE)
    assert waiting.sent == 0 and len(hook.received()) == 1
    after = send_pending(factory=factory, settings=estate, now=NOW + 121 * timedelta(seconds=1))
    assert after.by_channel == {"slack": {"sent": 2}}
    assert len(hook.received(accepted_only=True)) == 2
    summary = {row["channel"]: row for row in service.delivery_summary(session=session, principal=OPERATOR)}
    assert summary["slack"]["by_status"] == {"sent": 2}
    assert summary["slack"]["last_error"] == "Slack is rate limiting (429); retry after 120 s"


def test_a_dead_channel_is_visible_and_gives_up_after_its_attempts(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    factory: sessionmaker[Session],
    session: Session,
    mail: MailSink,
) -> None:
    monkeypatch.setenv("OAKTREE_DATABASE_URL", db_url)
    monkeypatch.setenv("OAKTREE_ALERT_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("OAKTREE_ALERT_DELIVERY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("OAKTREE_ALERT_SETTLE_SECONDS", "120")
    settings = load_settings()
    from tests.alerts.estate import hot_web

    hot_web(settings)
    dead = {"name": "dead", "type": "webhook", "url": f"http://127.0.0.1:{free_port()}/hook"}
    _fire(session, settings, factory, dead, _mail_channel(mail))
    outcomes = [
        send_pending(factory=factory, settings=settings, now=NOW + MINUTE * n).by_channel for n in range(4)
    ]
    assert outcomes == [
        {"dead": {"retrying": 1}, "mail": {"sent": 1}},
        {"dead": {"retrying": 1}},
        {"dead": {"failed": 1}},
        {},
    ]
    [dead_note, mail_note] = sorted(_notes(session), key=lambda note: note.channel_name)
    assert (dead_note.status, dead_note.attempts, mail_note.status) == ("failed", 3, "sent")
    assert dead_note.last_error == "cannot connect to the webhook (ConnectError)"
    [message] = mail.received()
    assert message["to"] == ["ops@example.com", "oncall@example.com"]
    assert message["subject"] == "[ALARM] high-cpu on web (i-web): INSUFFICIENT_DATA -> ALARM"
    assert message["message_id"] == f"<oaktree-notification-{mail_note.id}@oaktree>"
    assert "Why: 3 of the last 3 datapoints [95 (12:09), 95 (12:08), 95 (12:07)]" in message["body"]


def test_pagerduty_resolve_waits_for_its_trigger_and_shares_its_dedup_key(
    monkeypatch: pytest.MonkeyPatch,
    estate: Settings,
    factory: sessionmaker[Session],
    session: Session,
    hook: WebhookSink,
) -> None:
    pagerduty = {
        "name": "pd",
        "type": "pagerduty",
        "routing_key": "env:PD_KEY",
        "events_url": f"{hook.url}/v2/enqueue",
    }
    monkeypatch.setenv("PD_KEY", "routing-key-from-the-environment")
    _fire(session, estate, factory, pagerduty)
    hook.script(ScriptedAnswer(503), ScriptedAnswer(503))
    assert send_pending(factory=factory, settings=estate, now=NOW).retrying == 1
    write(estate, minute_points(WEB, [10] * 3, start=NOW - 2 * MINUTE))  # the web instance recovers
    run_pass(settings=estate, factory=factory, now=NOW + 3 * MINUTE)
    # The trigger fails again; the resolve behind it must not overtake it.
    blocked = send_pending(factory=factory, settings=estate, now=NOW + 3 * MINUTE)
    assert blocked.by_channel == {"pd": {"retrying": 1, "waiting": 1}}
    done = send_pending(factory=factory, settings=estate, now=NOW + 4 * MINUTE)
    assert done.by_channel == {"pd": {"sent": 2}}
    accepted = [r["body"] for r in hook.received(accepted_only=True)]
    assert [body["event_action"] for body in accepted] == ["trigger", "resolve"]
    assert accepted[0]["dedup_key"] == accepted[1]["dedup_key"]
    assert accepted[0]["routing_key"] == "routing-key-from-the-environment"
    assert accepted[0]["payload"]["severity"] == "critical" and accepted[0]["payload"]["source"] == "i-web"
    # The key never reached the database or the history.
    assert all("routing-key-from" not in str(note.payload) for note in _notes(session))
    channels = service.list_channels(session=session, principal=OPERATOR)
    assert channels == [
        {
            "name": "pd",
            "type": "pagerduty",
            "routing_key": "env:PD_KEY",
            "events_url": f"{hook.url}/v2/enqueue",
        }
    ]


def test_a_slack_message_that_may_have_arrived_is_not_sent_twice(
    monkeypatch: pytest.MonkeyPatch,
    estate: Settings,
    factory: sessionmaker[Session],
    session: Session,
    hook: WebhookSink,
) -> None:
    monkeypatch.setenv("OAKTREE_ALERT_SEND_TIMEOUT_SECONDS", "0.3")
    settings = load_settings()
    _fire(session, settings, factory, {"name": "slack", "type": "slack", "url": f"{hook.url}/services/T/B/X"})
    hook.script(ScriptedAnswer(200, body=b"ok", delay_seconds=1.0))
    assert send_pending(factory=factory, settings=settings, now=NOW).unknown == 1
    assert send_pending(factory=factory, settings=settings, now=NOW + MINUTE).sent == 0
    assert len(hook.received()) == 1
    [note] = _notes(session)
    assert (note.status, note.last_error) == ("unknown", "Slack did not answer in 0.3 s (ReadTimeout)")


def test_a_sender_that_died_after_claiming_is_replaced_after_the_lease(
    estate: Settings, factory: sessionmaker[Session], session: Session, hook: WebhookSink
) -> None:
    _fire(session, estate, factory, {"name": "hook", "type": "webhook", "url": hook.url})
    # A sender claimed the notification and died before sending it.
    session.execute(update(AlertNotification).values(status="sending", claimed_at=NOW, attempts=1))
    session.commit()
    assert send_pending(factory=factory, settings=estate, now=NOW + MINUTE).sent == 0
    lease = timedelta(seconds=estate.alert_sending_lease_seconds)
    assert send_pending(factory=factory, settings=estate, now=NOW + lease).sent == 1
    assert send_pending(factory=factory, settings=estate, now=NOW + 2 * lease).sent == 0
    assert len(hook.received()) == 1
    [note] = _notes(session)
    assert (note.status, note.attempts) == ("sent", 2)


def test_sns_on_moto(aws: None, estate: Settings, factory: sessionmaker[Session], session: Session) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="oaktree-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="pager")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    _fire(session, estate, factory, {"name": "topic", "type": "sns", "topic_arn": topic})
    assert send_pending(factory=factory, settings=estate, now=NOW).sent == 1
    assert send_pending(factory=factory, settings=estate, now=NOW + MINUTE).sent == 0
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert message["Body"].startswith("[ALARM] high-cpu on web (i-web): INSUFFICIENT_DATA -> ALARM\n")
    [note] = _notes(session)
    assert note.receipt is not None and len(note.receipt) == 36


def test_killed_between_the_transition_and_the_send_delivers_exactly_once_afterwards(
    estate: Settings, factory: sessionmaker[Session], session: Session, hook: WebhookSink, db_url: str
) -> None:
    for channel in ({"name": "hook", "type": "webhook", "url": hook.url},):
        service.put_channel(session=session, principal=OPERATOR, draft=channel)
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=["hook"]))
    env = {**os.environ, "OAKTREE_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.alerts.pass_then_hang", NOW.isoformat()],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the pass has committed, before any send
        assert line.strip() == "committed", process.stderr.read() if process.stderr else ""
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert hook.received() == []
    [pending] = _notes(session)
    assert pending.status == "pending"

    # A new process (here: this one) sends what the dead one left, once; later runs find nothing.
    assert send_pending(factory=factory, settings=estate, now=NOW).sent == 1
    assert send_pending(factory=factory, settings=estate, now=NOW + MINUTE).sent == 0
    assert run_pass(settings=estate, factory=factory, now=NOW).notifications_enqueued == 0
    assert len(hook.received()) == 1
