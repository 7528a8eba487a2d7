"""Notification channels: email (SMTP), Slack, generic JSON webhooks, PagerDuty Events v2, SNS.

Every channel turns a failed delivery into `DeliveryError`, saying whether a retry could help,
how long the receiver asked to wait (429 / Retry-After), and whether the message may have
arrived anyway (a timeout after the request was sent), so callers (the password-reset service,
the alert outbox) handle all channels the same way. Messages never contain a channel's URL or
key: they are secrets.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A notification could not be delivered.

    `retryable`: a later attempt could succeed. `retry_after`: seconds the receiver asked to wait.
    `maybe_delivered`: the receiver may have got it (the answer was lost), so a retry may duplicate.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered
