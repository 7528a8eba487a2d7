"""Notification channels: one module per channel (email here; Slack, PagerDuty and SNS join later).

Every channel turns a failed delivery into `DeliveryError`, saying whether a retry could help, so
callers (the password-reset service, the alert outbox) handle all channels the same way.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A notification could not be delivered; `retryable` is True for transient failures."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
