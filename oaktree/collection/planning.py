"""What to ask CloudWatch for: series from the inventory, windows from watermarks, full requests.

A series is one (resource, metric, statistic): one GetMetricData query. Each series has a
watermark, the exclusive end of the last window stored completely. The next window starts a
settling overlap before it (CloudWatch still revises the last 2-3 minutes) and ends at "now"
aligned down to the period, so windows are contiguous and a restart leaves no gap. Series whose
windows match are packed into requests of exactly 500 queries, the documented maximum.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from oaktree.catalogue import MetricSpec, metrics_of
from oaktree.inventory import Resource

# GetMetricData's documented maximum of metric queries per request.
MAX_QUERIES_PER_REQUEST = 500

SeriesKey = tuple[str, str, str]  # (resource_id, series_name, statistic)

_MINUTE_MS = 60_000
_DAY_MS = 86_400_000


def cloudwatch_retention_ms(period: int) -> int:
    """Return how far back CloudWatch keeps data at this period (older windows return nothing)."""
    if period < 60:
        return 3 * 3_600_000
    if period < 300:
        return 15 * _DAY_MS
    if period < 3600:
        return 63 * _DAY_MS
    return 455 * _DAY_MS


def align_down(epoch_ms: int, period: int) -> int:
    """Return the start of the period holding `epoch_ms` (periods are aligned to the epoch)."""
    period_ms = period * 1000
    return epoch_ms - epoch_ms % period_ms


def epoch_ms(moment: datetime) -> int:
    """Return a timezone-aware datetime as epoch milliseconds."""
    return int(moment.timestamp() * 1000)


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Series:
    """One (resource, metric, statistic): one GetMetricData query, one watermark, one stored series."""

    resource: Resource
    spec: MetricSpec
    statistic: str
    dimensions: dict[str, str]

    @property
    def key(self) -> SeriesKey:
        return (self.resource.resource_id, self.spec.series_name, self.statistic)

    @property
    def period(self) -> int:
        return self.spec.period

    def query(self, query_id: str) -> dict[str, Any]:
        """Return this series as a GetMetricData `MetricDataQuery`.

        No `Unit` is sent: CloudWatch returns nothing when a filter unit differs from the unit the
        data was published with; the catalogue's unit is what OakTree stores.
        """
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.spec.namespace,
                    "MetricName": self.spec.metric_name,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions.items()],
                },
                "Period": self.spec.period,
                "Stat": self.statistic,
            },
            "ReturnData": True,
        }


def series_of(resources: Iterable[Resource]) -> list[Series]:
    """Return every series the catalogue defines for these resources."""
    return [
        Series(resource=resource, spec=spec, statistic=statistic, dimensions=spec.dimensions(resource))
        for resource, spec in metrics_of(list(resources))
        for statistic in spec.statistics
    ]


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Window:
    """A half-open time range [start_ms, end_ms) read at one period."""

    period: int
    start_ms: int
    end_ms: int

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ms / 1000, UTC)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_ms / 1000, UTC)


def plan_windows(
    series: Iterable[Series],
    watermarks: Mapping[SeriesKey, int],
    *,
    now_ms: int,
    overlap_minutes: int,
    lookback_minutes: int,
) -> dict[Window, list[Series]]:
    """Group series by the window each must read next; series already up to date are left out.

    A new series reads the lookback; a known one reads from its watermark minus the overlap, but
    never further back than CloudWatch keeps data at its period.
    """
    groups: dict[Window, list[Series]] = defaultdict(list)
    for one in series:
        end = align_down(now_ms, one.period)
        watermark = watermarks.get(one.key)
        if watermark is None:
            start = end - lookback_minutes * _MINUTE_MS
        else:
            start = watermark - overlap_minutes * _MINUTE_MS
        start = align_down(max(start, end - cloudwatch_retention_ms(one.period)), one.period)
        if start < end:
            groups[Window(one.period, start, end)].append(one)
    return dict(groups)


@dataclasses.dataclass(frozen=True, slots=True)
class MetricBatch:
    """Up to 500 series read over one window: one GetMetricData request (plus its NextToken pages)."""

    window: Window
    series: tuple[Series, ...]

    def __post_init__(self) -> None:
        if not 0 < len(self.series) <= MAX_QUERIES_PER_REQUEST:
            raise ValueError(f"a GetMetricData batch holds 1 to {MAX_QUERIES_PER_REQUEST} queries")

    def request(self, indexes: Iterable[int] | None = None) -> dict[str, Any]:
        """Return GetMetricData arguments for the batch (or some of its series, by index).

        Query ids are `q<index in batch>`, so results map back to series on any page.
        """
        chosen = range(len(self.series)) if indexes is None else indexes
        return {
            "MetricDataQueries": [self.series[index].query(f"q{index}") for index in chosen],
            "StartTime": self.window.start,
            "EndTime": self.window.end,
            "ScanBy": "TimestampAscending",
        }


def pack_batches(
    groups: Mapping[Window, list[Series]], *, max_queries: int = MAX_QUERIES_PER_REQUEST
) -> list[MetricBatch]:
    """Pack each window's series into requests of `max_queries` (the last one of a window holds the rest)."""
    if not 0 < max_queries <= MAX_QUERIES_PER_REQUEST:
        raise ValueError(f"max_queries must be between 1 and {MAX_QUERIES_PER_REQUEST}")
    batches: list[MetricBatch] = []
    for window in sorted(groups):
        members = groups[window]
        for offset in range(0, len(members), max_queries):
            batches.append(MetricBatch(window, tuple(members[offset : offset + max_queries])))
    return batches
