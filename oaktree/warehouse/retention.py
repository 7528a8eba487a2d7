"""Retention: each resolution keeps its own number of days; expired partitions are deleted whole.

A query that listed an expired partition's file just before it was deleted fails to open it;
retention runs once a day, so a notebook query that meets it can simply be run again.

A partition is expired when all of it is older than its resolution's retention, i.e. its end
is at or before `now - days`; a partition straddling the cut-off is kept until it has aged
out entirely, so nothing younger than the retention is ever lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from oaktree.config import Settings
from oaktree.logs import get_logger
from oaktree.warehouse import layout
from oaktree.warehouse.files import partition_lock, remove_empty_dirs
from oaktree.warehouse.layout import Resolution
from oaktree.warehouse.rollups import rollup_lock

log = get_logger(__name__)


def retention_days(settings: Settings) -> dict[Resolution, int]:
    """Return the configured days kept per resolution."""
    return {
        Resolution.MINUTE: settings.warehouse_retention_1m_days,
        Resolution.FIVE_MINUTES: settings.warehouse_retention_5m_days,
        Resolution.HOUR: settings.warehouse_retention_1h_days,
        Resolution.DAY: settings.warehouse_retention_1d_days,
    }


@dataclasses.dataclass
class RetentionReport:
    """What one retention run deleted, per resolution."""

    cutoffs: dict[str, datetime] = dataclasses.field(default_factory=dict)
    event_days_deleted: int = 0
    partitions_deleted: dict[str, int] = dataclasses.field(default_factory=dict)
    partitions_kept: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict (datetimes as ISO strings)."""
        return {
            "cutoffs": {key: value.isoformat() for key, value in self.cutoffs.items()},
            "partitions_deleted": dict(self.partitions_deleted),
            "partitions_kept": dict(self.partitions_kept),
            "event_days_deleted": self.event_days_deleted,
        }


def expire_events(warehouse_dir: Path, *, now: datetime, days: int) -> int:
    """Delete the events' date partitions wholly older than `days`; return how many were deleted."""
    cutoff = now.astimezone(UTC) - timedelta(days=days)
    deleted = 0
    for directory in sorted(layout.events_dir(warehouse_dir).glob("date=*")):
        day = datetime.strptime(directory.name.removeprefix("date="), "%Y-%m-%d").replace(tzinfo=UTC)
        if day + timedelta(days=1) > cutoff:
            continue
        for file in directory.glob("*.parquet"):
            file.unlink(missing_ok=True)
        deleted += 1
    remove_empty_dirs(layout.events_dir(warehouse_dir))
    return deleted


def apply_configured_retention(settings: Settings, *, now: datetime | None = None) -> RetentionReport:
    """Apply the configured retention of every resolution and of the events to the warehouse."""
    return apply_retention(
        settings.warehouse_dir,
        now=now or datetime.now(UTC),
        days=retention_days(settings),
        events_days=settings.warehouse_retention_events_days,
    )


def apply_retention(
    warehouse_dir: Path, *, now: datetime, days: Mapping[Resolution, int], events_days: int | None = None
) -> RetentionReport:
    """Delete every partition whose whole time range is older than its resolution's retention."""
    report = RetentionReport()
    now = now.astimezone(UTC)
    # Under the rollup lock, a rollup never reads a 1-minute partition that is being deleted.
    with rollup_lock(warehouse_dir):
        for resolution in Resolution:
            cutoff = now - timedelta(days=days[resolution])
            deleted = kept = 0
            for partition in layout.list_partitions(warehouse_dir, resolution):
                if partition.end > cutoff:
                    kept += 1
                    continue
                with partition_lock(warehouse_dir, partition.directory):
                    for version in partition.versions():
                        version.unlink(missing_ok=True)
                deleted += 1
            remove_empty_dirs(layout.resolution_dir(warehouse_dir, resolution))
            report.cutoffs[resolution.value] = cutoff
            report.partitions_deleted[resolution.value] = deleted
            report.partitions_kept[resolution.value] = kept
    if events_days is not None:
        report.event_days_deleted = expire_events(warehouse_dir, now=now, days=events_days)
    log.info("warehouse_retention_done", **report.to_dict())
    return report
