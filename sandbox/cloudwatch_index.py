"""A faster GetMetricData for the sandbox's moto CloudWatch, same answers for metric queries.

moto answers each query by rescanning every datapoint of the window once per period: 500
queries over 3 hours of a 2-region fleet take minutes. The sandbox installs this method on its
own moto CloudWatch backends (per instance, never on moto's class): it groups the window's
datapoints by series once per request and buckets each series by period. A moto reset drops the
instance attribute, which returns the backend to moto's own implementation.

Semantics kept from moto 5.2: periods start at StartTime; points in [StartTime, EndTime); the
Unit filter; labels; ScanBy order. One deliberate difference: a query with dimensions also
matches on Namespace, as real CloudWatch does (moto ignores it there).
Metric math and Metrics Insights queries fall back to moto's implementation.
"""

from __future__ import annotations

import types
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import CloudWatchBackend, MetricDatumBase, Statistics, cloudwatch_backends

_SeriesKey = tuple[str, str, frozenset[tuple[str, str]]]


def _series_key(namespace: str, name: str, dimensions: Any) -> _SeriesKey:
    return namespace, name, frozenset((d.name, d.value) for d in dimensions)


def indexed_get_metric_data(
    backend: CloudWatchBackend,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    """Answer GetMetricData's metric queries with one pass over the window's datapoints."""
    if any("MetricStat" not in query for query in queries):
        return CloudWatchBackend.get_metric_data(backend, queries, start_time, end_time, scan_by)
    start_time = start_time.replace(microsecond=0)
    end_time = end_time.replace(microsecond=0)
    if start_time > end_time:
        raise ValidationError("The parameter EndTime must be greater than StartTime.")
    if start_time == end_time:
        raise ValidationError("The parameter StartTime must not equal parameter EndTime.")

    by_series: dict[_SeriesKey, list[MetricDatumBase]] = defaultdict(list)
    by_name: dict[tuple[str, str], list[MetricDatumBase]] = defaultdict(list)
    for datum in backend.get_all_metrics():
        if start_time <= datum.timestamp < end_time:
            by_series[_series_key(datum.namespace, datum.name, datum.dimensions)].append(datum)
            by_name[(datum.namespace, datum.name)].append(datum)

    results = []
    for query in queries:
        metric_stat = query["MetricStat"]
        metric = metric_stat["Metric"]
        dimensions = metric.get("Dimensions", [])
        if dimensions:
            key = (
                metric["Namespace"],
                metric["MetricName"],
                frozenset((d["Name"], d["Value"]) for d in dimensions),
            )
            candidates = by_series.get(key, [])
        else:  # no dimensions: every series of that name, as moto does
            candidates = by_name.get((metric["Namespace"], metric["MetricName"]), [])
        unit = metric_stat.get("Unit")
        if unit:
            candidates = [datum for datum in candidates if datum.unit == unit]
        period = timedelta(seconds=int(metric_stat["Period"]))
        buckets: dict[int, list[MetricDatumBase]] = defaultdict(list)
        for datum in candidates:
            buckets[(datum.timestamp - start_time) // period].append(datum)
        stat = metric_stat["Stat"]
        timestamps, values = [], []
        for index in sorted(buckets):
            stats = Statistics([stat], start_time + index * period)
            stats.metric_data = buckets[index]
            timestamps.append(stats.timestamp)
            values.append(stats.get_statistics_for_type(stat))
        if scan_by == "TimestampDescending":
            timestamps.reverse()
            values.reverse()
        if query.get("ReturnData", True):
            results.append(
                {
                    "id": query["Id"],
                    "label": query.get("Label") or f"{metric['MetricName']} {stat}",
                    "values": values,
                    "timestamps": timestamps,
                    "status_code": "Complete",
                }
            )
    return results


def install(*, account_id: str, regions: list[str]) -> None:
    """Give the moto CloudWatch backends of these regions the indexed GetMetricData."""
    for region in regions:
        backend = cloudwatch_backends[account_id][region]
        backend.get_metric_data = types.MethodType(indexed_get_metric_data, backend)
