"""The Slack channel: a message posted to an incoming webhook.

Slack has no idempotency key: a retry after a lost answer posts twice. The outbox therefore
does not retry a Slack message that may have been delivered (see `DeliveryError.maybe_delivered`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from oaktree.notify.http import post_json


@dataclasses.dataclass(frozen=True, slots=True)
class SlackChannel:
    """Posts to one Slack incoming webhook URL (a secret)."""

    url: str = dataclasses.field(repr=False)
    timeout_seconds: float = 10.0
    idempotent = False

    def send(self, *, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        """Post one message; return Slack's answer (`ok`); raise DeliveryError on failure."""
        payload: dict[str, Any] = {"text": text}
        if blocks:
            payload["blocks"] = blocks
        response = post_json(self.url, payload, what="Slack", timeout=self.timeout_seconds)
        return response.text.strip()[:100] or str(response.status_code)
