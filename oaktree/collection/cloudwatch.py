"""Reading one GetMetricData batch completely: NextToken pages followed, PartialData asked again.

A result's `StatusCode` is `PartialData` when CloudWatch has more for that query; the rest comes
on the NextToken pages. A query still partial after the last page is asked again on its own
(the whole window, replacing what came before). A query that stays partial, or that CloudWatch
answers with `InternalError`/`Forbidden`, is "incomplete": its points are stored but its
watermark does not move, so the next run reads the window again.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from oaktree.collection.planning import MetricBatch, Series
from oaktree.warehouse.schema import POINT_SCHEMA

GetMetricData = Callable[..., dict[str, Any]]

# Times a query left PartialData after its last page is asked again within one run.
PARTIAL_REFETCHES = 2


@dataclasses.dataclass(slots=True)
class SeriesPoints:
    """The points of one series over a window, as CloudWatch returned them (oldest first)."""

    series: Series
    timestamps_ms: list[int]
    values: list[float]


@dataclasses.dataclass(slots=True)
class BatchResult:
    """One batch's points, which series are incomplete, and what reading it took."""

    batch: MetricBatch
    points: list[SeriesPoints]
    incomplete: set[int]  # indexes into batch.series
    partial_results: int = 0  # query results that came back PartialData (before any re-ask)
    requests: int = 0  # GetMetricData requests made, NextToken pages included

    @property
    def datapoints(self) -> int:
        return sum(len(one.values) for one in self.points)


def _to_epoch_ms(timestamps: Sequence[Any]) -> list[int]:
    # botocore hands back aware datetimes; whole-second times convert exactly.
    return [round(moment.timestamp() * 1000) for moment in timestamps]


def fetch_batch(
    batch: MetricBatch, get_metric_data: GetMetricData, *, refetches: int = PARTIAL_REFETCHES
) -> BatchResult:
    """Read every series of a batch over its window; return their points and completeness.

    `get_metric_data(**request)` makes one call (rate limiting and throttle retries are the
    caller's). NextToken is followed here rather than by botocore's paginator because a
    throttled page must be retried on its own, not the request restarted from page one.
    """
    timestamps: dict[int, list[int]] = {index: [] for index in range(len(batch.series))}
    values: dict[int, list[float]] = {index: [] for index in range(len(batch.series))}
    status: dict[int, str] = {}
    pending = list(range(len(batch.series)))
    result = BatchResult(batch=batch, points=[], incomplete=set())
    for round_number in range(1 + refetches):
        if round_number:
            # A re-ask reads the whole window again: drop the partial answer it replaces.
            for index in pending:
                timestamps[index], values[index] = [], []
        request = batch.request(pending)
        while True:
            response = get_metric_data(**request)
            result.requests += 1
            for answer in response["MetricDataResults"]:
                index = int(answer["Id"][1:])
                timestamps[index].extend(_to_epoch_ms(answer.get("Timestamps", [])))
                values[index].extend(answer.get("Values", []))
                status[index] = answer.get("StatusCode", "Complete")
                if status[index] == "PartialData":
                    result.partial_results += 1
            next_token = response.get("NextToken")
            if not next_token:
                break
            request = {**request, "NextToken": next_token}
        pending = [index for index in pending if status.get(index) == "PartialData"]
        if not pending:
            break
    result.incomplete = {index for index, code in status.items() if code != "Complete"}
    result.points = [
        SeriesPoints(series=series, timestamps_ms=timestamps[index], values=values[index])
        for index, series in enumerate(batch.series)
    ]
    return result


def points_table(series_points: Sequence[SeriesPoints]) -> pa.Table:
    """Return points as a `POINT_SCHEMA` table (the shape the warehouse takes)."""
    counts = np.fromiter((len(one.values) for one in series_points), dtype=np.int64, count=len(series_points))
    # Per-series strings are built once and repeated by index: no Python object per point.
    rows_of_series = pa.array(np.repeat(np.arange(len(series_points), dtype=np.int64), counts))

    def repeated(field: Callable[[SeriesPoints], str]) -> pa.Array:
        return pa.array([field(one) for one in series_points], pa.string()).take(rows_of_series)

    timestamps = pa.array(
        list(itertools.chain.from_iterable(one.timestamps_ms for one in series_points)), pa.int64()
    )
    return pa.Table.from_arrays(
        [
            repeated(lambda one: one.series.resource.resource_id),
            repeated(lambda one: one.series.resource.resource_type.value),
            repeated(lambda one: one.series.resource.region),
            repeated(lambda one: one.series.spec.series_name),
            repeated(lambda one: one.series.statistic),
            repeated(lambda one: one.series.spec.unit),
            timestamps.cast(pa.timestamp("ms", tz="UTC")),
            pa.array(list(itertools.chain.from_iterable(one.values for one in series_points)), pa.float64()),
            repeated(lambda one: one.series.resource.account_id),
        ],
        schema=POINT_SCHEMA,
    )
