"""Events: what happened to a resource (discovered, changed state, alarmed, acted on), as one model.

Discovery, the alert engine and resource actions all produce `Event`s; `oaktree.eventlog` stores
them in the DynamoDB events table (the operational record) and the warehouse (for analysis).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any


class Severity:
    """Severities an event carries, mildest first."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to one resource; `event_id` keeps two events in one millisecond apart."""

    resource_id: str
    resource_type: str
    region: str
    event_type: str
    severity: str
    message: str
    timestamp: datetime
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    event_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    # The AWS account of the resource (None where it is unknown, e.g. events of older versions).
    account_id: str | None = None

    @property
    def timestamp_ms(self) -> int:
        return int(self.timestamp.timestamp() * 1000)

    def to_record(self) -> dict[str, Any]:
        """Return the event as a flat dict for JSON output."""
        return dataclasses.asdict(self)
