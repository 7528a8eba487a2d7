"""One discovery run: every region and service, isolated failures, inventory diff, events."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from oaktree import aws
from oaktree.config import Settings
from oaktree.discovery import store
from oaktree.discovery.changes import carry_first_seen, diff_inventories
from oaktree.discovery.sources import SERVICE_SOURCES, SERVICE_TYPES
from oaktree.eventlog import record_events
from oaktree.events import Event
from oaktree.inventory import Resource
from oaktree.logs import get_logger

log = get_logger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class SourceFailure:
    """A service in a region that could not be read, and why."""

    region: str
    service: str
    error_code: str
    message: str


@dataclasses.dataclass
class RegionDiscovery:
    """What one region yielded: resources from the services that answered, failures from the rest."""

    region: str
    resources: list[Resource]
    failures: list[SourceFailure]


@dataclasses.dataclass
class DiscoveryReport:
    """The outcome of a discovery run across regions."""

    resources: list[Resource]
    events: list[Event]
    failures: list[SourceFailure]
    events_written: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary: counts per type and region, resources, changes, failures."""
        counts: dict[str, dict[str, int]] = {}
        for resource in self.resources:
            per_region = counts.setdefault(resource.resource_type.value, {})
            per_region[resource.region] = per_region.get(resource.region, 0) + 1
        return {
            "resources_total": len(self.resources),
            "resources_by_type_and_region": counts,
            "resources": [
                {
                    "resource_id": r.resource_id,
                    "resource_type": r.resource_type.value,
                    "region": r.region,
                    "name": r.name,
                    "state": r.state,
                }
                for r in self.resources
            ],
            "changes": [
                {
                    "resource_id": e.resource_id,
                    "event_type": e.event_type,
                    "severity": e.severity,
                    "message": e.message,
                }
                for e in self.events
            ],
            "events_written": self.events_written,
            "failures": [dataclasses.asdict(f) for f in self.failures],
        }


def _error_code(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "ClientError")
    return type(exc).__name__


def discover_region(region: str, now: datetime | None = None) -> RegionDiscovery:
    """Read every service of one region; a failing service is recorded, the others still read."""
    now = now or datetime.now(UTC)
    resources: list[Resource] = []
    failures: list[SourceFailure] = []
    for service, source in SERVICE_SOURCES.items():
        try:
            resources.extend(source(region, now))
        # The isolation boundary of discovery: any AWS error (AccessDenied, throttling after
        # botocore's retries, an endpoint that is down) fails this service in this region only.
        except (ClientError, BotoCoreError) as exc:
            failure = SourceFailure(region, service, _error_code(exc), str(exc))
            log.warning(
                "discovery_source_failed", **dataclasses.asdict(failure), request_id=aws.request_id(exc)
            )
            failures.append(failure)
    return RegionDiscovery(region=region, resources=resources, failures=failures)


def merge_regions(
    previous: list[Resource], discovered: list[RegionDiscovery]
) -> tuple[list[Resource], list[SourceFailure]]:
    """Return the new inventory: fresh results, plus the previous entries of sources that failed.

    A source that failed says nothing about its resources, so they are kept as last seen rather
    than reported gone.
    """
    resources: list[Resource] = []
    failures: list[SourceFailure] = []
    for region_result in discovered:
        resources.extend(region_result.resources)
        failures.extend(region_result.failures)
        for failure in region_result.failures:
            kept_types = SERVICE_TYPES[failure.service]
            resources.extend(
                r for r in previous if r.region == failure.region and r.resource_type in kept_types
            )
    discovered_regions = {result.region for result in discovered}
    # Regions no longer configured are not "gone": keep them out of this run's diff entirely.
    resources.extend(r for r in previous if r.region not in discovered_regions)
    return resources, failures


def record_discovery(
    settings: Settings, discovered: list[RegionDiscovery], now: datetime | None = None
) -> DiscoveryReport:
    """Diff the regions' results against the stored inventory, write events, save the inventory."""
    now = now or datetime.now(UTC)
    previous = store.load_inventory(settings)
    merged, failures = merge_regions(previous, discovered)
    current = carry_first_seen(previous, merged)
    events = diff_inventories(previous, current, now)
    stats = record_events(settings, events)
    # The inventory is saved after the events, so a crash in between re-detects the same changes.
    store.save_inventory(settings, current)
    log.info(
        "discovery_recorded",
        resources=len(current),
        events=len(events),
        failures=len(failures),
    )
    return DiscoveryReport(
        resources=current, events=events, failures=failures, events_written=stats.items_written
    )


def discover_all(settings: Settings, now: datetime | None = None) -> DiscoveryReport:
    """Run discovery across every configured region and record it (the CLI path; flows fan out)."""
    now = now or datetime.now(UTC)
    return record_discovery(settings, [discover_region(region, now) for region in settings.regions], now)
