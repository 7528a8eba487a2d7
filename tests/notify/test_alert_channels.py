"""Slack, webhook and PagerDuty against a real HTTP server on loopback; SNS and Secrets Manager on moto."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import boto3
import pytest

from oaktree.notify import DeliveryError
from oaktree.notify.http import retry_after_seconds
from oaktree.notify.pagerduty import PagerDutyChannel
from oaktree.notify.secrets import MASK, resolve, shown
from oaktree.notify.slack import SlackChannel
from oaktree.notify.sns import SnsChannel, topic_region
from oaktree.notify.webhook import WebhookChannel
from sandbox.sinks import ScriptedAnswer, WebhookSink, free_port


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as running:
        yield running


def test_slack_posts_text_and_blocks(sink: WebhookSink) -> None:
    answer = SlackChannel(url=f"{sink.url}/services/T0/B0/secret").send(
        text="[ALARM] cpu on web-1", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*cpu*"}}]
    )
    [request] = sink.received()
    assert answer == "ok"
    assert request["path"] == "/services/T0/B0/secret"
    assert request["body"] == {
        "text": "[ALARM] cpu on web-1",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*cpu*"}}],
    }


def test_slack_rate_limit_carries_retry_after_and_never_the_url(sink: WebhookSink) -> None:
    sink.script(ScriptedAnswer(429, headers={"Retry-After": "7"}, body={"ok": False}))
    with pytest.raises(DeliveryError) as caught:
        SlackChannel(url=f"{sink.url}/services/secret-token").send(text="hello")
    assert (caught.value.retryable, caught.value.retry_after) == (True, 7.0)
    assert "secret-token" not in str(caught.value) and sink.url not in str(caught.value)
    assert str(caught.value) == "Slack is rate limiting (429); retry after 7 s"


def test_webhook_sends_the_document_with_an_idempotency_key(sink: WebhookSink) -> None:
    channel = WebhookChannel(url=f"{sink.url}/hooks/oaktree", headers={"Authorization": "Bearer abc"})
    status = channel.send(
        document={"rule": "cpu", "to": "ALARM"}, idempotency_key="oaktree-n-1", event="trigger"
    )
    [request] = sink.received()
    assert status == "200"
    assert request["body"] == {"rule": "cpu", "to": "ALARM"}
    assert request["headers"]["Idempotency-Key"] == "oaktree-n-1"
    assert request["headers"]["X-OakTree-Event"] == "trigger"
    assert request["headers"]["Authorization"] == "Bearer abc"
    assert "abc" not in repr(channel)


@pytest.mark.parametrize(
    ("answer", "retryable", "retry_after", "message"),
    [
        (
            ScriptedAnswer(500, body={"error": "boom"}),
            True,
            None,
            'the webhook answered 500: {"error": "boom"}',
        ),
        (ScriptedAnswer(503, headers={"Retry-After": "30"}), True, 30.0, "the webhook answered 503: "),
        (
            ScriptedAnswer(400, body={"error": "bad"}),
            False,
            None,
            'the webhook refused the message (400): {"error": "bad"}',
        ),
    ],
)
def test_webhook_failures_say_whether_to_retry(
    sink: WebhookSink, answer: ScriptedAnswer, retryable: bool, retry_after: float | None, message: str
) -> None:
    sink.script(answer)
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(url=sink.url).send(document={}, idempotency_key="k", event="trigger")
    assert (caught.value.retryable, caught.value.retry_after, caught.value.maybe_delivered) == (
        retryable,
        retry_after,
        False,
    )
    assert str(caught.value) == message


def test_a_timeout_after_sending_may_have_been_delivered(sink: WebhookSink) -> None:
    sink.script(ScriptedAnswer(200, delay_seconds=1.5))
    with pytest.raises(DeliveryError) as caught:
        SlackChannel(url=sink.url, timeout_seconds=0.3).send(text="slow")
    assert (caught.value.retryable, caught.value.maybe_delivered) == (True, True)
    assert len(sink.received()) == 1  # it did arrive: a blind retry would post twice


def test_an_unreachable_receiver_was_certainly_not_reached() -> None:
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(url=f"http://127.0.0.1:{free_port()}/x").send(
            document={}, idempotency_key="k", event="e"
        )
    assert (caught.value.retryable, caught.value.maybe_delivered) == (True, False)
    assert str(caught.value) == "cannot connect to the webhook (ConnectError)"


def test_pagerduty_trigger_then_resolve_share_the_dedup_key(sink: WebhookSink) -> None:
    channel = PagerDutyChannel(
        routing_key="R0UTINGKEY0123456789012345678901", events_url=f"{sink.url}/v2/enqueue"
    )
    trigger = channel.event(
        action="trigger",
        dedup_key="oaktree-7-abc-1",
        summary="CPU high on web-1",
        source="i-0abc",
        severity="critical",
        timestamp="2025-05-20T12:00:00+00:00",
        details={"reason": "3 of 3 breached"},
    )
    assert channel.send(trigger) == "oaktree-7-abc-1"
    resolve_event = channel.event(
        action="resolve",
        dedup_key="oaktree-7-abc-1",
        summary="",
        source="i-0abc",
        severity="critical",
        timestamp="2025-05-20T12:10:00+00:00",
        details={},
    )
    channel.send(resolve_event)
    bodies = [request["body"] for request in sink.received()]
    assert [body["event_action"] for body in bodies] == ["trigger", "resolve"]
    assert {body["dedup_key"] for body in bodies} == {"oaktree-7-abc-1"}
    assert bodies[0]["payload"] == {
        "summary": "CPU high on web-1",
        "source": "i-0abc",
        "severity": "critical",
        "timestamp": "2025-05-20T12:00:00+00:00",
        "custom_details": {"reason": "3 of 3 breached"},
    }
    assert "payload" not in bodies[1]
    assert all(request["path"] == "/v2/enqueue" for request in sink.received())
    assert "R0UTINGKEY" not in repr(channel)


def test_pagerduty_refuses_bad_dedup_keys_before_sending() -> None:
    channel = PagerDutyChannel(routing_key="k")
    with pytest.raises(ValueError, match="dedup_key is 1 to 255"):
        channel.event(
            action="trigger",
            dedup_key="x" * 256,
            summary="s",
            source="s",
            severity="info",
            timestamp="t",
            details={},
        )
    with pytest.raises(ValueError, match="unknown PagerDuty event action"):
        channel.event(
            action="page", dedup_key="x", summary="s", source="s", severity="info", timestamp="t", details={}
        )


def test_retry_after_as_seconds_or_http_date() -> None:
    now = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert retry_after_seconds("in a while") is None
    assert retry_after_seconds("999999") == 3600.0


def _queue_for(topic_arn: str, *, fifo: bool) -> tuple[object, str]:
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    attributes = {"FifoQueue": "true"} if fifo else {}
    url = sqs.create_queue(QueueName="inbox.fifo" if fifo else "inbox", Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return sqs, url


def test_sns_publishes_to_a_topic(aws: None) -> None:
    topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="oaktree-alerts")["TopicArn"]
    sqs, url = _queue_for(topic, fifo=False)
    message_id = SnsChannel(topic).send(
        subject="[ALARM] cpu", message="body", deduplication_id="n-1", group="g"
    )
    [received] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]  # type: ignore[attr-defined]
    assert received["Body"] == "body"
    assert len(message_id) == 36


def test_sns_fifo_topic_drops_a_retried_message(aws: None) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="oaktree-alerts.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    sqs, url = _queue_for(topic, fifo=True)
    channel = SnsChannel(topic)
    assert channel.idempotent is True
    for _ in range(2):
        channel.send(
            subject="[ALARM] cpu", message="once", deduplication_id="notification-9", group="cpu/i-1"
        )
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]  # type: ignore[attr-defined]
    assert [message["Body"] for message in messages] == ["once"]


def test_sns_missing_topic_is_permanent(aws: None) -> None:
    with pytest.raises(DeliveryError) as caught:
        SnsChannel("arn:aws:sns:us-east-1:123456789012:nope").send(
            subject="s", message="m", deduplication_id="d", group="g"
        )
    assert caught.value.retryable is False
    assert str(caught.value) == "SNS refused the message (NotFound)"


def test_topic_region_reads_the_arn() -> None:
    assert topic_region("arn:aws:sns:ap-southeast-1:123456789012:alerts") == "ap-southeast-1"
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        topic_region("arn:aws:sqs:us-east-1:1:q")


def test_secrets_from_secrets_manager_and_the_environment(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("secretsmanager", region_name="ap-southeast-1")
    arn = client.create_secret(Name="oaktree/pagerduty", SecretString="pd-routing-key")["ARN"]
    assert resolve(f"secretsmanager:{arn}", default_region="us-east-1") == "pd-routing-key"
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="slack-url", SecretString="https://x"
    )
    assert resolve("secretsmanager:slack-url", default_region="us-east-1") == "https://x"
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:1/hook")
    assert resolve("env:HOOK_URL", default_region="us-east-1") == "http://127.0.0.1:1/hook"
    assert resolve("plain-value", default_region="us-east-1") == "plain-value"
    assert (shown("env:HOOK_URL"), shown("plain-value")) == ("env:HOOK_URL", MASK)


def test_unreadable_secrets_are_permanent_delivery_errors(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(DeliveryError, match="the environment variable NOT_SET_ANYWHERE is not set") as unset:
        resolve("env:NOT_SET_ANYWHERE", default_region="us-east-1")
    assert unset.value.retryable is False
    with pytest.raises(
        DeliveryError, match=r"cannot read secret missing \(ResourceNotFoundException\)"
    ) as missing:
        resolve("secretsmanager:missing", default_region="us-east-1")
    assert missing.value.retryable is False
