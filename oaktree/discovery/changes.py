"""Inventory changes between two discovery runs, as events."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from oaktree.inventory import Resource


class EventType:
    """Event types written to the events table."""

    DISCOVERED = "resource_discovered"
    STATE_CHANGED = "state_changed"
    CAPACITY_CHANGED = "capacity_changed"
    GONE = "resource_gone"


@dataclasses.dataclass(frozen=True, slots=True)
class InventoryEvent:
    """One change to one resource; `event_id` makes two events in one millisecond distinct."""

    resource_id: str
    resource_type: str
    region: str
    event_type: str
    severity: str
    message: str
    timestamp: datetime
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    event_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def timestamp_ms(self) -> int:
        return int(self.timestamp.timestamp() * 1000)

    def to_record(self) -> dict[str, Any]:
        """Return the event as a flat dict for JSON output and the warehouse."""
        return dataclasses.asdict(self)


# A running instance that stops may be an outage; other transitions are informational.
_WARNING_STATES = {"stopped", "stopping", "shutting-down", "INACTIVE", "DRAINING"}


def diff_inventories(
    previous: list[Resource], current: list[Resource], now: datetime
) -> list[InventoryEvent]:
    """Return the events that turn `previous` into `current`: new, changed state or capacity, gone."""
    before = {resource.resource_id: resource for resource in previous}
    after = {resource.resource_id: resource for resource in current}
    events: list[InventoryEvent] = []

    def event(resource: Resource, event_type: str, severity: str, message: str, **details: Any) -> None:
        events.append(
            InventoryEvent(
                resource_id=resource.resource_id,
                resource_type=resource.resource_type.value,
                region=resource.region,
                event_type=event_type,
                severity=severity,
                message=message,
                timestamp=now,
                details={"name": resource.name, **details},
            )
        )

    for resource_id, resource in after.items():
        old = before.get(resource_id)
        label = f"{resource.resource_type.value} {resource.name}"
        if old is None:
            event(
                resource,
                EventType.DISCOVERED,
                "info",
                f"{label} discovered ({resource.state})",
                state=resource.state,
            )
            continue
        if old.state != resource.state:
            severity = "warning" if resource.state in _WARNING_STATES else "info"
            event(
                resource,
                EventType.STATE_CHANGED,
                severity,
                f"{label} changed state {old.state} -> {resource.state}",
                previous_state=old.state,
                state=resource.state,
            )
        if (old.desired_count, old.running_count) != (resource.desired_count, resource.running_count) and (
            resource.desired_count is not None
        ):
            event(
                resource,
                EventType.CAPACITY_CHANGED,
                "info",
                f"{label} tasks {old.running_count}/{old.desired_count} -> "
                f"{resource.running_count}/{resource.desired_count}",
                previous_desired=old.desired_count,
                previous_running=old.running_count,
                desired=resource.desired_count,
                running=resource.running_count,
            )
    for resource_id, resource in before.items():
        if resource_id not in after:
            label = f"{resource.resource_type.value} {resource.name}"
            event(resource, EventType.GONE, "warning", f"{label} is gone", last_state=resource.state)
    return events


def carry_first_seen(previous: list[Resource], current: list[Resource]) -> list[Resource]:
    """Return `current` with each resource's `first_seen` taken from the previous inventory."""
    first_seen = {resource.resource_id: resource.first_seen for resource in previous}
    return [
        dataclasses.replace(resource, first_seen=first_seen.get(resource.resource_id) or resource.first_seen)
        for resource in current
    ]
