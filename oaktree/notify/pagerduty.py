"""The PagerDuty channel: Events API v2 (`trigger` and `resolve` with one dedup_key per episode).

A repeated trigger with the same dedup_key is harmless; PagerDuty answers 202 when it accepted
an event. The endpoint is configurable so tests can point it at a loopback server.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from oaktree.notify import DeliveryError
from oaktree.notify.http import post_json

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")


@dataclasses.dataclass(frozen=True, slots=True)
class PagerDutyChannel:
    """Sends events to one PagerDuty service (its integration's routing key is a secret)."""

    routing_key: str = dataclasses.field(repr=False)
    events_url: str = DEFAULT_EVENTS_URL
    timeout_seconds: float = 10.0
    idempotent = True

    def event(
        self,
        *,
        action: str,
        dedup_key: str,
        summary: str,
        source: str,
        severity: str,
        timestamp: str,
        details: dict[str, Any],
    ) -> dict[str, Any]:
        """Return the Events API v2 document `send` posts."""
        if action not in ACTIONS:
            raise ValueError(f"unknown PagerDuty event action {action!r}")
        if not dedup_key or len(dedup_key) > MAX_DEDUP_KEY:
            raise ValueError(f"a dedup_key is 1 to {MAX_DEDUP_KEY} characters")
        document: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": action,
            "dedup_key": dedup_key,
        }
        if action == "trigger":
            document["payload"] = {
                "summary": summary[:MAX_SUMMARY],
                "source": source,
                "severity": severity if severity in SEVERITIES else "error",
                "timestamp": timestamp,
                "custom_details": details,
            }
        return document

    def send(self, document: dict[str, Any]) -> str:
        """Post one event; return PagerDuty's dedup_key; raise DeliveryError on failure."""
        response = post_json(
            self.events_url, document, what="PagerDuty", timeout=self.timeout_seconds, accepted=(200, 202)
        )
        try:
            answer = response.json()
        except ValueError:
            raise DeliveryError(
                "PagerDuty answered 202 without JSON", retryable=True, maybe_delivered=True
            ) from None
        return str(answer.get("dedup_key") or document["dedup_key"])
