"""The raw store of datapoints and per-series watermarks: the DynamoDB metrics table.

Items (key design in `oaktree.storage.tables`):
- a point: `resource_id`, `metric_key` = `<metric>#<statistic>#<epoch ms>`, plus the seed's
  `timestamp` (N, epoch ms), `metric_name`, `value`, `unit`, `dimensions` (M), `region`,
  `account_id` (when known) and `statistic`; `expires_at` (epoch s) = the point's time + the
  raw TTL, CloudWatch's own 1-minute retention. A point has one key, so writing it twice
  overwrites, never duplicates.
- a watermark: `resource_id`, `metric_key` = `~watermark#<metric>#<statistic>`, `watermark` (N,
  epoch ms): the exclusive end of the last window stored completely. `~` sorts after every
  metric name, so watermarks never fall inside a point range query. They expire like points, so a
  resource gone for longer than the retention starts afresh with a backfill.

Functions build low-level attribute-value items directly (one small dict per point, attribute
values shared across a series), which keeps conversion far below the cost of the network call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from oaktree.storage import tables
from oaktree.storage.batch_writer import backoff_delay
from oaktree.storage.tables import EPOCH_MS_DIGITS, METRICS_TABLE

Item = dict[str, Any]
SeriesKey = tuple[str, str, str]  # (resource_id, metric_name as stored, statistic)

KEY_ATTRIBUTES = (METRICS_TABLE.partition_key, METRICS_TABLE.sort_key)
# BatchGetItem's documented maximum of keys per call.
BATCH_GET_LIMIT = 100

_DAY_S = 86_400
# DynamoDB numbers span 1E-130 to 1E+126 in magnitude. CloudWatch caps values at 2^360 (about
# 2.3E+108), so only magnitudes below 1E-130 cannot be stored; they are stored as 0 (the
# warehouse keeps the exact double).
_DYNAMODB_SMALLEST = 1e-130


def point_items(
    *,
    resource_id: str,
    region: str,
    metric_name: str,
    statistic: str,
    unit: str,
    dimensions: Mapping[str, str],
    timestamps_ms: Iterable[int],
    values: Iterable[float],
    ttl_days: int,
    account_id: str | None = None,
) -> Iterator[Item]:
    """Yield the metrics table items of one series' points (timestamps and values in step)."""
    account = {"account_id": {"S": account_id}} if account_id else {}
    resource_av = {"S": resource_id}
    region_av = {"S": region}
    metric_av = {"S": metric_name}
    statistic_av = {"S": statistic}
    unit_av = {"S": unit}
    dimensions_av = {"M": {name: {"S": value} for name, value in dimensions.items()}}
    key_prefix = tables.metric_key_prefix(metric_name, statistic)
    ttl_s = ttl_days * _DAY_S
    # This loop runs once per datapoint (hundreds of thousands a run): one str() of the time
    # serves both the sort key and the `timestamp` attribute.
    for timestamp_ms, value in zip(timestamps_ms, values, strict=True):
        if -_DYNAMODB_SMALLEST < value < _DYNAMODB_SMALLEST:
            value = 0.0
        ms_text = str(timestamp_ms)
        yield {
            "resource_id": resource_av,
            "metric_key": {"S": key_prefix + ms_text.zfill(EPOCH_MS_DIGITS)},
            "timestamp": {"N": ms_text},
            "metric_name": metric_av,
            "statistic": statistic_av,
            # repr() is the shortest string that reads back as the same number: values stay exact.
            "value": {"N": repr(value)},
            "unit": unit_av,
            "dimensions": dimensions_av,
            "region": region_av,
            "expires_at": {"N": str(timestamp_ms // 1000 + ttl_s)},
            **account,
        }


def watermark_items(
    watermarks: Mapping[SeriesKey, int],
    *,
    region: str,
    ttl_days: int,
    updated_ms: int,
    account_id: str | None = None,
) -> Iterator[Item]:
    """Yield watermark items (series key -> exclusive end of the last complete window, epoch ms)."""
    account = {"account_id": {"S": account_id}} if account_id else {}
    region_av = {"S": region}
    updated_av = {"N": str(updated_ms)}
    for (resource_id, metric_name, statistic), watermark_ms in watermarks.items():
        yield {
            "resource_id": {"S": resource_id},
            "metric_key": {"S": tables.watermark_key(metric_name, statistic)},
            "watermark": {"N": str(watermark_ms)},
            "updated_at": updated_av,
            "region": region_av,
            "expires_at": {"N": str(watermark_ms // 1000 + ttl_days * _DAY_S)},
            **account,
        }


def load_watermarks(
    client: Any,
    table_name: str,
    keys: Iterable[SeriesKey],
    *,
    max_attempts: int = 10,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[SeriesKey, int]:
    """Return the stored watermark of each series that has one (BatchGetItem, 100 keys a call).

    UnprocessedKeys (DynamoDB answering part of a batch under load) are asked again with backoff;
    a series whose key stays unprocessed is left out, i.e. read as new: it backfills the lookback
    and overwrites, which costs calls but never loses or duplicates a point.
    """
    by_item_key: dict[tuple[str, str], SeriesKey] = {}
    for key in keys:
        resource_id, metric_name, statistic = key
        by_item_key[(resource_id, tables.watermark_key(metric_name, statistic))] = key
    item_keys = list(by_item_key)
    found: dict[SeriesKey, int] = {}
    for offset in range(0, len(item_keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {
            table_name: {
                "Keys": [
                    {"resource_id": {"S": rid}, "metric_key": {"S": sort_key}}
                    for rid, sort_key in item_keys[offset : offset + BATCH_GET_LIMIT]
                ],
                "ProjectionExpression": "resource_id, metric_key, watermark",
            }
        }
        for attempt in range(max_attempts):
            response = client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table_name, []):
                series_key = by_item_key[(item["resource_id"]["S"], item["metric_key"]["S"])]
                found[series_key] = int(item["watermark"]["N"])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            sleep(backoff_delay(attempt))
    return found


def query_points(
    client: Any,
    table_name: str,
    *,
    resource_id: str,
    metric_name: str,
    statistic: str,
    start_ms: int,
    end_ms: int,
) -> list[dict[str, Any]]:
    """Return one series' points in [start_ms, end_ms), oldest first: one (paginated) Query.

    Each point is a dict with `timestamp` (epoch ms), `value`, `unit`, `region`, `dimensions`,
    `account_id` (None for points stored before accounts were kept).
    """
    paginator = client.get_paginator("query")
    pages = paginator.paginate(
        TableName=table_name,
        KeyConditionExpression="resource_id = :rid AND metric_key BETWEEN :low AND :high",
        ExpressionAttributeValues={
            ":rid": {"S": resource_id},
            ":low": {"S": tables.metric_key(metric_name, statistic, start_ms)},
            ":high": {"S": tables.metric_key(metric_name, statistic, end_ms - 1)},
        },
    )
    points: list[dict[str, Any]] = []
    for page in pages:
        for item in page["Items"]:
            points.append(
                {
                    "timestamp": int(item["timestamp"]["N"]),
                    "value": float(item["value"]["N"]),
                    "unit": item["unit"]["S"],
                    "region": item["region"]["S"],
                    "dimensions": {name: av["S"] for name, av in item["dimensions"]["M"].items()},
                    "account_id": item.get("account_id", {}).get("S"),
                }
            )
    return points
