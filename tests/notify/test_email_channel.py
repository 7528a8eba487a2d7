"""The email channel against a real SMTP server on loopback."""

from __future__ import annotations

import pytest

from oaktree.config import load_settings
from oaktree.notify import DeliveryError
from oaktree.notify.email import EmailChannel, SmtpConfig
from tests.notify.smtp_sink import free_port, smtp_sink


def _channel(port: int, **options: object) -> EmailChannel:
    return EmailChannel(SmtpConfig(host="127.0.0.1", port=port, starttls=False, **options))  # type: ignore[arg-type]


def test_message_arrives_with_headers_and_body() -> None:
    with smtp_sink() as (handler, port):
        message_id = _channel(port, sender="OakTree <alerts@example.com>").send(
            to="ops@example.com",
            subject="CPU high on i-0abc",
            body="CPUUtilization 97.5 > 80\nSince 12:00 UTC\n",
        )
    [received] = handler.messages
    assert received["From"] == "OakTree <alerts@example.com>"
    assert received["To"] == "ops@example.com"
    assert received["Subject"] == "CPU high on i-0abc"
    assert received["Message-ID"] == message_id and message_id.endswith("@oaktree>")
    assert received.get_content() == "CPUUtilization 97.5 > 80\nSince 12:00 UTC\n"
    assert handler.recipients == [["ops@example.com"]]


def test_non_ascii_content_survives() -> None:
    with smtp_sink() as (handler, port):
        _channel(port).send(to="ops@example.com", subject="Überlast - 東京", body="Température élevée ✓\n")
    assert handler.messages[0]["Subject"] == "Überlast - 東京"
    assert handler.messages[0].get_content() == "Température élevée ✓\n"


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("451 4.3.0 Try again later", True), ("554 5.7.1 Rejected", False)],
)
def test_server_refusals_say_whether_to_retry(reply: str, retryable: bool) -> None:
    with smtp_sink(reply=reply) as (_handler, port), pytest.raises(DeliveryError) as caught:
        _channel(port).send(to="ops@example.com", subject="s", body="b")
    assert caught.value.retryable is retryable
    assert str(caught.value) == f"the mail server answered {reply[:3]}"


def test_unreachable_server_is_retryable() -> None:
    port = free_port()
    with pytest.raises(DeliveryError, match=f"cannot reach the mail server 127.0.0.1:{port}") as caught:
        _channel(port, timeout_seconds=2.0).send(to="ops@example.com", subject="s", body="b")
    assert caught.value.retryable is True


def test_starttls_required_but_not_offered_is_a_setup_error() -> None:
    with smtp_sink() as (handler, port), pytest.raises(DeliveryError, match="SMTP setup problem") as caught:
        EmailChannel(SmtpConfig(host="127.0.0.1", port=port, starttls=True)).send(
            to="ops@example.com", subject="s", body="b"
        )
    assert caught.value.retryable is False
    assert handler.messages == []


def test_config_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SmtpConfig.from_settings(load_settings()) is None
    monkeypatch.setenv("OAKTREE_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("OAKTREE_SMTP_PORT", "2525")
    monkeypatch.setenv("OAKTREE_SMTP_USER", "oaktree")
    monkeypatch.setenv("OAKTREE_SMTP_PASSWORD", "hunter2-but-longer")
    monkeypatch.setenv("OAKTREE_SMTP_STARTTLS", "false")
    config = SmtpConfig.from_settings(load_settings())
    assert config == SmtpConfig(
        host="mail.example.com",
        port=2525,
        sender="OakTree <oaktree@localhost>",
        user="oaktree",
        password="hunter2-but-longer",
        starttls=False,
        timeout_seconds=10.0,
    )
    assert "hunter2" not in repr(config)
