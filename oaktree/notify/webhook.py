"""The generic webhook channel: the notification as a JSON document, POSTed with an idempotency key.

The `Idempotency-Key` header is the same on every retry of one notification, so a receiver
that keeps the keys it has seen can drop a repeat caused by a lost answer.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from oaktree.notify.http import post_json


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookChannel:
    """POSTs JSON to one URL, with optional extra headers (e.g. an authorization token)."""

    url: str = dataclasses.field(repr=False)
    headers: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)
    timeout_seconds: float = 10.0
    idempotent = True

    def send(self, *, document: dict[str, Any], idempotency_key: str, event: str) -> str:
        """POST the document; return the HTTP status; raise DeliveryError on failure."""
        headers = {**self.headers, "Idempotency-Key": idempotency_key, "X-OakTree-Event": event}
        response = post_json(
            self.url, document, what="the webhook", timeout=self.timeout_seconds, headers=headers
        )
        return str(response.status_code)
