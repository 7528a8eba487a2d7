"""The email channel: plain-text messages over SMTP (STARTTLS and login when configured).

A caller may fix the Message-ID (the alert outbox derives it from the notification), so a
retried message carries the same id and mail clients show it once.
"""

from __future__ import annotations

import dataclasses
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid

from oaktree.config import Settings
from oaktree.logs import get_logger
from oaktree.notify import DeliveryError

log = get_logger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to send mail."""

    host: str
    port: int = 587
    sender: str = "OakTree <oaktree@localhost>"
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    starttls: bool = True
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """Return the SMTP configuration, or None when no OAKTREE_SMTP_HOST is set."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.smtp_timeout_seconds,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class EmailChannel:
    """Sends plain-text email through one SMTP server."""

    config: SmtpConfig

    def build(
        self, *, to: str | Sequence[str], subject: str, body: str, message_id: str | None = None
    ) -> EmailMessage:
        """Return the message that `send` would deliver (to one address or several)."""
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = to if isinstance(to, str) else ", ".join(to)
        message["Subject"] = subject
        message["Message-ID"] = message_id or make_msgid(domain="oaktree")
        message.set_content(body)
        return message

    def send(self, *, to: str | Sequence[str], subject: str, body: str, message_id: str | None = None) -> str:
        """Deliver one message and return its Message-ID; raise DeliveryError on failure."""
        message = self.build(to=to, subject=subject, body=body, message_id=message_id)
        config = self.config
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds) as smtp:
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if config.user:
                    smtp.login(config.user, config.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"the mail server refused {message['To']}", retryable=False) from exc
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError) as exc:
            raise DeliveryError(f"SMTP setup problem at {config.host}: {exc}", retryable=False) from exc
        except smtplib.SMTPResponseException as exc:
            # 4xx replies are temporary by definition (RFC 5321 section 4.2.1); 5xx are permanent.
            raise DeliveryError(
                f"the mail server answered {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"cannot reach the mail server {config.host}:{config.port} ({exc})", retryable=True
            ) from exc
        if refused:
            raise DeliveryError(f"the mail server refused {', '.join(refused)}", retryable=False)
        log.info("notify.email_sent", to=to, subject=subject, message_id=message["Message-ID"])
        return str(message["Message-ID"])
