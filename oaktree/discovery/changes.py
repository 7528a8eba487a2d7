"""Inventory changes between two discovery runs, as events."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from oaktree.events import Event, Severity
from oaktree.inventory import Resource


class EventType:
    """Event types discovery writes to the events table."""

    DISCOVERED = "resource_discovered"
    STATE_CHANGED = "state_changed"
    CAPACITY_CHANGED = "capacity_changed"
    GONE = "resource_gone"


# A running instance that stops may be an outage; other transitions are informational.
_WARNING_STATES = {"stopped", "stopping", "shutting-down", "INACTIVE", "DRAINING"}


def diff_inventories(previous: list[Resource], current: list[Resource], now: datetime) -> list[Event]:
    """Return the events that turn `previous` into `current`: new, changed state or capacity, gone."""
    before = {resource.resource_id: resource for resource in previous}
    after = {resource.resource_id: resource for resource in current}
    events: list[Event] = []

    def event(resource: Resource, event_type: str, severity: str, message: str, **details: Any) -> None:
        events.append(
            Event(
                resource_id=resource.resource_id,
                resource_type=resource.resource_type.value,
                region=resource.region,
                account_id=resource.account_id,
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
                Severity.INFO,
                f"{label} discovered ({resource.state})",
                state=resource.state,
            )
            continue
        if old.state != resource.state:
            severity = Severity.WARNING if resource.state in _WARNING_STATES else Severity.INFO
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
                Severity.INFO,
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
            event(resource, EventType.GONE, Severity.WARNING, f"{label} is gone", last_state=resource.state)
    return events


def carry_first_seen(previous: list[Resource], current: list[Resource]) -> list[Resource]:
    """Return `current` with each resource's `first_seen` taken from the previous inventory."""
    first_seen = {resource.resource_id: resource.first_seen for resource in previous}
    return [
        dataclasses.replace(resource, first_seen=first_seen.get(resource.resource_id) or resource.first_seen)
        for resource in current
    ]
