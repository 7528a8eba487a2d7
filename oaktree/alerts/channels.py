"""Notification channels as alert rules use them: validated definitions and the senders they build.

A channel is a name, a type and its fields (the rules file's vocabulary):

| type | fields |
| --- | --- |
| email | `to` (an address or a list); optional `smtp_host`, `smtp_port`, `starttls`, `smtp_user`, |
| | `smtp_password`, `sender`, `subject_prefix` (default: the OAKTREE_SMTP_* settings) |
| slack | `url` (the incoming webhook URL) |
| webhook | `url`; optional `headers` |
| pagerduty | `routing_key`; optional `events_url` |
| sns | `topic_arn` |

Secret fields (`url` of slack and webhook, `headers` values, `routing_key`, `smtp_password`) may
hold `secretsmanager:<id>` or `env:<VARIABLE>` instead of the value; listings show references
as they are and mask values.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from oaktree.auth.validation import control_character_problem, normalise_email
from oaktree.config import Settings
from oaktree.notify import DeliveryError
from oaktree.notify.email import EmailChannel, SmtpConfig
from oaktree.notify.pagerduty import PagerDutyChannel
from oaktree.notify.secrets import is_reference, resolve, shown
from oaktree.notify.slack import SlackChannel
from oaktree.notify.sns import SnsChannel
from oaktree.notify.webhook import WebhookChannel


class ChannelType(enum.StrEnum):
    """The kinds of channel a rule can notify."""

    EMAIL = "email"
    SLACK = "slack"
    WEBHOOK = "webhook"
    PAGERDUTY = "pagerduty"
    SNS = "sns"


CHANNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SNS_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
_FIELDS: dict[ChannelType, tuple[set[str], set[str]]] = {
    # type: (required fields, optional fields)
    ChannelType.EMAIL: (
        {"to"},
        {"smtp_host", "smtp_port", "starttls", "smtp_user", "smtp_password", "sender", "subject_prefix"},
    ),
    ChannelType.SLACK: ({"url"}, set()),
    ChannelType.WEBHOOK: ({"url"}, {"headers"}),
    ChannelType.PAGERDUTY: ({"routing_key"}, {"events_url"}),
    ChannelType.SNS: ({"topic_arn"}, set()),
}
SECRET_FIELDS = {"url", "routing_key", "smtp_password"}


class InvalidChannel(ValueError):
    """A channel definition is invalid; `errors` maps each bad field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


@dataclasses.dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A validated channel: its name, type and fields (secret fields as given: values or references)."""

    name: str
    type: ChannelType
    config: dict[str, Any] = dataclasses.field(repr=False)

    def to_draft(self) -> dict[str, Any]:
        """Return the channel as a rules file's entry, secrets as stored."""
        return {"name": self.name, "type": self.type.value, **self.config}

    def shown(self) -> dict[str, Any]:
        """Return the channel for listings: secret values masked, references kept."""
        config: dict[str, Any] = {}
        for key, value in self.config.items():
            if key in SECRET_FIELDS and isinstance(value, str):
                config[key] = shown(value)
            elif key == "headers" and isinstance(value, Mapping):
                config[key] = {name: shown(str(header)) for name, header in value.items()}
            else:
                config[key] = value
        return {"name": self.name, "type": self.type.value, **config}

    @property
    def idempotent(self) -> bool:
        """Return whether the receiver drops a repeated notification (so a blind retry is harmless)."""
        if self.type is ChannelType.SNS:
            return str(self.config["topic_arn"]).endswith(".fifo")
        # Email repeats carry the same Message-ID; webhooks get an Idempotency-Key; PagerDuty a dedup_key.
        return self.type is not ChannelType.SLACK


def _url_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a URL"
    if is_reference(value):
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return "must be an http:// or https:// URL (or secretsmanager:<id> / env:<VARIABLE>)"
    return None


def _text_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be non-empty text"
    return control_character_problem(value)


def _recipients(value: Any, errors: dict[str, str]) -> list[str]:
    addresses = [value] if isinstance(value, str) else value
    if not isinstance(addresses, list) or not addresses or not all(isinstance(a, str) for a in addresses):
        errors["to"] = "must be an email address or a list of them"
        return []
    normalised = []
    for address in addresses:
        clean, problem = normalise_email(address)
        if problem or clean is None:
            errors["to"] = f"{address!r} is not a valid address ({problem})"
            return []
        normalised.append(clean)
    return normalised


def parse_channel(draft: Mapping[str, Any]) -> ChannelSpec:
    """Return the channel a draft describes, or raise InvalidChannel naming every bad field."""
    errors: dict[str, str] = {}
    name = draft.get("name")
    if not isinstance(name, str) or not CHANNEL_NAME.fullmatch(name):
        errors["name"] = "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
    type_name = draft.get("type")
    try:
        channel_type = ChannelType(type_name)
    except ValueError:
        errors["type"] = f"{type_name!r} is not one of {', '.join(t.value for t in ChannelType)}"
        raise InvalidChannel(errors) from None
    required, optional = _FIELDS[channel_type]
    fields = {key: value for key, value in draft.items() if key not in {"name", "type"}}
    for key in sorted(set(fields) - required - optional):
        errors[key] = f"is not a field of a {channel_type.value} channel"
    for key in sorted(required - {k for k, v in fields.items() if v not in (None, "")}):
        errors[key] = "is required"
    config: dict[str, Any] = {}
    for key, value in fields.items():
        if key in errors or value is None:
            continue
        problem = None
        if key == "to":
            value = _recipients(value, errors)
        elif key in {"url", "events_url"}:
            problem = _url_problem(value)
        elif key == "headers":
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                problem = "must map header names to text values"
            else:
                value = dict(value)
        elif key == "topic_arn":
            if not isinstance(value, str) or not SNS_TOPIC_ARN.fullmatch(value):
                problem = "must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
        elif key == "smtp_port":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                problem = "must be a port number (1 to 65535)"
        elif key == "starttls":
            if not isinstance(value, bool):
                problem = "must be true or false"
        elif key == "sender":
            if not isinstance(value, str) or "@" not in parseaddr(value)[1]:
                problem = "must be an address such as 'OakTree <alerts@example.com>'"
        else:
            problem = _text_problem(value)
        if problem:
            errors[key] = problem
        elif key not in errors:
            config[key] = value
    if errors:
        raise InvalidChannel(errors)
    assert isinstance(name, str)
    return ChannelSpec(name=name, type=channel_type, config=config)


@dataclasses.dataclass(frozen=True, slots=True)
class Senders:
    """Builds each channel's sender, resolving its secrets only now (never stored, never logged)."""

    settings: Settings

    def _secret(self, value: str) -> str:
        return resolve(value, default_region=self.settings.storage_region)

    def email(self, spec: ChannelSpec) -> EmailChannel:
        """Return the email sender: the channel's SMTP fields, else the OAKTREE_SMTP_* settings."""
        base = SmtpConfig.from_settings(self.settings)
        host = spec.config.get("smtp_host") or (base.host if base else None)
        if not host:
            raise DeliveryError(
                "no SMTP server: set OAKTREE_SMTP_HOST or the channel's smtp_host", retryable=False
            )
        password = spec.config.get("smtp_password")
        return EmailChannel(
            SmtpConfig(
                host=host,
                port=int(spec.config.get("smtp_port") or self.settings.smtp_port),
                sender=spec.config.get("sender") or self.settings.smtp_sender,
                user=spec.config.get("smtp_user") or self.settings.smtp_user,
                password=self._secret(password) if password else (base.password if base else None),
                starttls=bool(spec.config.get("starttls", self.settings.smtp_starttls)),
                timeout_seconds=self.settings.alert_send_timeout_seconds,
            )
        )

    def slack(self, spec: ChannelSpec) -> SlackChannel:
        return SlackChannel(
            url=self._secret(spec.config["url"]), timeout_seconds=self.settings.alert_send_timeout_seconds
        )

    def webhook(self, spec: ChannelSpec) -> WebhookChannel:
        headers = {name: self._secret(value) for name, value in (spec.config.get("headers") or {}).items()}
        return WebhookChannel(
            url=self._secret(spec.config["url"]),
            headers=headers,
            timeout_seconds=self.settings.alert_send_timeout_seconds,
        )

    def pagerduty(self, spec: ChannelSpec) -> PagerDutyChannel:
        return PagerDutyChannel(
            routing_key=self._secret(spec.config["routing_key"]),
            events_url=spec.config.get("events_url") or self.settings.pagerduty_events_url,
            timeout_seconds=self.settings.alert_send_timeout_seconds,
        )

    def sns(self, spec: ChannelSpec) -> SnsChannel:
        return SnsChannel(topic_arn=spec.config["topic_arn"])
