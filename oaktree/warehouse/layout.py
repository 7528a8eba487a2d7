"""Where the warehouse's files live under `$OAKTREE_DATA_DIR/warehouse/` (or an S3 prefix later).

    resources/inventory.parquet                       latest inventory (discovery)
    events/date=YYYY-MM-DD/<run id>.parquet           inventory change events (discovery)
    metrics/resolution=1m/region=R/date=YYYY-MM-DD/hour=HH/v<ns>.parquet   1-minute points
    metrics/resolution=5m/region=R/date=YYYY-MM-DD/v<ns>.parquet           5-minute buckets
    metrics/resolution=1h/region=R/month=YYYY-MM/v<ns>.parquet             1-hour buckets
    metrics/resolution=1d/region=R/year=YYYY/v<ns>.parquet                 1-day buckets
    <dataset>/_empty.parquet     a zero-row file with the dataset's schema, so views work when empty
    _locks/, _state/             writers' lock files and the rollup's bookkeeping (never read by views)

A metrics partition is a folder; each write adds a new immutable *version* file `v<ns>.parquet`
holding the whole partition, named after the time it was written (nanoseconds, zero-padded so
names sort in time order). A file is never changed or renamed once written, because DuckDB
reopens files by path during a query: a reader racing an in-place replacement gets
"TProtocolException: Invalid data" (measured with DuckDB 2.0.1). Superseded versions are
deleted only after a grace period, so a running query can still open what it listed; views
keep, per key, the row of the newest version (see `oaktree.warehouse.views`).

Partition sizes follow how often each is rewritten (the current hour of points every
collection, the current day/month/year of buckets every rollup) and keep file counts small.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

RESOURCES = "resources"  # resources/v<ns>.parquet: inventory snapshots, the newest is current
EVENTS = "events"  # events/date=YYYY-MM-DD/<run id>.parquet: inventory change events
METRICS = "metrics"  # metrics/resolution=<r>/region=<region>/...: points and rollups
LOCKS = "_locks"
STATE = "_state"

# Name of each dataset's zero-row schema file. DuckDB fails a view over a glob that matches
# nothing ("No files found"); this file always matches. The leading underscore makes Spark,
# pyarrow.dataset and other readers skip it by convention.
EMPTY_FILE = "_empty.parquet"

# Region names become directory names, so anything beyond AWS's alphabet is refused.
_REGION_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Resolution(enum.StrEnum):
    """Resolutions the warehouse keeps: raw 1-minute points and three rollups."""

    MINUTE = "1m"
    FIVE_MINUTES = "5m"
    HOUR = "1h"
    DAY = "1d"

    @property
    def bucket(self) -> timedelta:
        """Return the width of one point or bucket."""
        return _BUCKET_WIDTH[self]

    @property
    def view(self) -> str:
        """Return the name of the DuckDB view over this resolution."""
        return "metrics" if self is Resolution.MINUTE else f"metrics_{self.value}"


_BUCKET_WIDTH = {
    Resolution.MINUTE: timedelta(minutes=1),
    Resolution.FIVE_MINUTES: timedelta(minutes=5),
    Resolution.HOUR: timedelta(hours=1),
    Resolution.DAY: timedelta(days=1),
}

ROLLUP_RESOLUTIONS = (Resolution.FIVE_MINUTES, Resolution.HOUR, Resolution.DAY)


VERSION_PREFIX = "v"
_VERSION_DIGITS = 20  # nanoseconds since the epoch, zero-padded: names sort in time order


@dataclasses.dataclass(frozen=True, slots=True)
class Partition:
    """One folder of metrics versions: a resolution, a region and the time range it covers."""

    resolution: Resolution
    region: str
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    directory: Path

    def versions(self) -> list[Path]:
        """Return the partition's version files, oldest first."""
        return versions_in(self.directory)

    def newest(self) -> Path | None:
        """Return the newest version file, or None if the partition has none."""
        return newest_version(self.directory)


def versions_in(directory: Path) -> list[Path]:
    """Return the version files of a folder, oldest first."""
    return sorted(directory.glob(f"{VERSION_PREFIX}*.parquet"))


def newest_version(directory: Path) -> Path | None:
    """Return a folder's newest version file, or None if it has none."""
    versions = versions_in(directory)
    return versions[-1] if versions else None


def version_name(written_ns: int) -> str:
    """Return the file name of a version written at `written_ns` (nanoseconds since the epoch)."""
    return f"{VERSION_PREFIX}{written_ns:0{_VERSION_DIGITS}d}.parquet"


def version_ns(path: Path) -> int:
    """Return when a version file was written (nanoseconds since the epoch), from its name."""
    return int(path.name.removeprefix(VERSION_PREFIX).removesuffix(".parquet"))


def check_region(region: str) -> str:
    """Return `region` if it is safe as a directory name, else raise ValueError."""
    if not _REGION_NAME.match(region):
        raise ValueError(f"region {region!r} is not a valid region name")
    return region


def inventory_dir(warehouse_dir: Path) -> Path:
    """Return the folder of inventory snapshots; its newest version is the current inventory."""
    return warehouse_dir / RESOURCES


def events_dir(warehouse_dir: Path) -> Path:
    """Return the folder of the events' date partitions."""
    return warehouse_dir / EVENTS


def resolution_dir(warehouse_dir: Path, resolution: Resolution) -> Path:
    """Return the folder holding every partition of one resolution."""
    return warehouse_dir / METRICS / f"resolution={resolution.value}"


def lock_dir(warehouse_dir: Path) -> Path:
    """Return the folder of the writers' lock files."""
    return warehouse_dir / LOCKS


def state_dir(warehouse_dir: Path) -> Path:
    """Return the folder of the rollup's bookkeeping."""
    return warehouse_dir / STATE


def partition_start(resolution: Resolution, moment: datetime) -> datetime:
    """Return the start of the partition of `resolution` that holds `moment` (UTC)."""
    moment = moment.astimezone(UTC)
    if resolution is Resolution.MINUTE:
        return moment.replace(minute=0, second=0, microsecond=0)
    if resolution is Resolution.FIVE_MINUTES:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if resolution is Resolution.HOUR:
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


def partition_end(resolution: Resolution, start: datetime) -> datetime:
    """Return the exclusive end of the partition that starts at `start`."""
    if resolution is Resolution.MINUTE:
        return start + timedelta(hours=1)
    if resolution is Resolution.FIVE_MINUTES:
        return start + timedelta(days=1)
    if resolution is Resolution.HOUR:
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start.replace(year=start.year + 1)


def _relative_name(resolution: Resolution, start: datetime) -> str:
    if resolution is Resolution.MINUTE:
        return f"date={start:%Y-%m-%d}/hour={start:%H}"
    if resolution is Resolution.FIVE_MINUTES:
        return f"date={start:%Y-%m-%d}"
    if resolution is Resolution.HOUR:
        return f"month={start:%Y-%m}"
    return f"year={start:%Y}"


def partition_for(warehouse_dir: Path, resolution: Resolution, region: str, moment: datetime) -> Partition:
    """Return the partition of one resolution and region that holds `moment`."""
    start = partition_start(resolution, moment)
    path = resolution_dir(warehouse_dir, resolution) / f"region={check_region(region)}"
    return Partition(
        resolution=resolution,
        region=region,
        start=start,
        end=partition_end(resolution, start),
        directory=path / _relative_name(resolution, start),
    )


# What a partition folder's path looks like below `region=R/`, per resolution.
_PARTITION_NAME = {
    Resolution.MINUTE: (re.compile(r"^date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})$"), "%Y-%m-%d %H"),
    Resolution.FIVE_MINUTES: (re.compile(r"^date=(\d{4}-\d{2}-\d{2})$"), "%Y-%m-%d"),
    Resolution.HOUR: (re.compile(r"^month=(\d{4}-\d{2})$"), "%Y-%m"),
    Resolution.DAY: (re.compile(r"^year=(\d{4})$"), "%Y"),
}


def list_partitions(warehouse_dir: Path, resolution: Resolution) -> Iterator[Partition]:
    """Yield every partition folder of one resolution (paths that do not fit the layout are ignored)."""
    pattern, date_format = _PARTITION_NAME[resolution]
    root = resolution_dir(warehouse_dir, resolution)
    if not root.is_dir():
        return
    for region_dir in sorted(root.glob("region=*")):
        region = region_dir.name.removeprefix("region=")
        for path in sorted(p for p in region_dir.rglob("*") if p.is_dir()):
            match = pattern.match(path.relative_to(region_dir).as_posix())
            if match is None:
                continue
            start = datetime.strptime(" ".join(match.groups()), date_format).replace(tzinfo=UTC)
            yield Partition(
                resolution=resolution,
                region=region,
                start=start,
                end=partition_end(resolution, start),
                directory=path,
            )
