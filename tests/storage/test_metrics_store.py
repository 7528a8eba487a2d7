"""The metrics table: item shape, one Query per series and range, watermarks outside every range."""

from __future__ import annotations

from typing import Any

import pytest

from oaktree import aws as aws_clients
from oaktree.config import Settings
from oaktree.storage.batch_writer import write_items
from oaktree.storage.metrics_store import (
    KEY_ATTRIBUTES,
    load_watermarks,
    point_items,
    query_points,
    watermark_items,
)
from oaktree.storage.tables import METRICS_TABLE, ensure_table

T0 = 1_795_521_000_000  # 2026-11-24 11:50:00 UTC
DIMENSIONS = {"InstanceId": "i-1"}


def items_of(
    metric: str, statistic: str, values: list[float], resource_id: str = "i-1"
) -> list[dict[str, Any]]:
    return list(
        point_items(
            resource_id=resource_id,
            region="us-east-1",
            metric_name=metric,
            statistic=statistic,
            unit="Percent",
            dimensions={"InstanceId": resource_id},
            timestamps_ms=[T0 + 60_000 * n for n in range(len(values))],
            values=values,
            ttl_days=15,
        )
    )


@pytest.fixture
def table(aws: None, settings: Settings) -> str:
    ensure_table(settings.metrics_table, METRICS_TABLE, settings.storage_region)
    return settings.metrics_table


@pytest.fixture
def dynamodb(table: str, settings: Settings) -> Any:
    return aws_clients.client("dynamodb", settings.storage_region)


def test_a_point_item_keeps_the_seed_attributes_and_expires_with_cloudwatch() -> None:
    (item,) = items_of("CPUUtilization", "Average", [0.1])

    assert item == {
        "resource_id": {"S": "i-1"},
        "metric_key": {"S": "CPUUtilization#Average#1795521000000"},
        "timestamp": {"N": "1795521000000"},
        "metric_name": {"S": "CPUUtilization"},
        "statistic": {"S": "Average"},
        "value": {"N": "0.1"},
        "unit": {"S": "Percent"},
        "dimensions": {"M": {"InstanceId": {"S": "i-1"}}},
        "region": {"S": "us-east-1"},
        "expires_at": {"N": str(1_795_521_000 + 15 * 86_400)},
    }


def test_values_dynamodb_cannot_hold_are_stored_as_zero() -> None:
    tiny, small = items_of("CPUUtilization", "Average", [-1e-200, 1e-129])
    assert tiny["value"] == {"N": "0.0"}
    assert small["value"] == {"N": "1e-129"}


def test_one_query_returns_one_series_over_a_range_exactly(dynamodb: Any, table: str) -> None:
    values = [1 / 3, 2.5e-9, 2.0**360, 42.0, 7.125]  # 2^360: CloudWatch's largest value
    items = (
        items_of("CPUUtilization", "Average", values)
        + items_of("CPUUtilization", "Maximum", [9.0] * 5)
        + items_of("CPUUtilization", "Average", [5.0] * 5, resource_id="i-2")
        + list(
            watermark_items(
                {("i-1", "CPUUtilization", "Average"): T0}, region="us-east-1", ttl_days=15, updated_ms=T0
            )
        )
    )
    write_items(dynamodb, table, items, KEY_ATTRIBUTES)
    calls: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.append("Query"))

    found = query_points(
        dynamodb,
        table,
        resource_id="i-1",
        metric_name="CPUUtilization",
        statistic="Average",
        start_ms=T0 + 60_000,
        end_ms=T0 + 4 * 60_000,
    )

    assert [(p["timestamp"], p["value"]) for p in found] == [
        (T0 + 60_000, 2.5e-9),
        (T0 + 120_000, 2.0**360),
        (T0 + 180_000, 42.0),
    ]
    assert found[0]["dimensions"] == DIMENSIONS and found[0]["unit"] == "Percent"
    assert calls == ["Query"]
    everything = query_points(
        dynamodb,
        table,
        resource_id="i-1",
        metric_name="CPUUtilization",
        statistic="Average",
        start_ms=0,
        end_ms=2**42,
    )
    assert [p["value"] for p in everything] == values  # the watermark item is outside every range


def test_watermarks_round_trip_through_batch_get_with_unprocessed_keys(dynamodb: Any, table: str) -> None:
    stored = {(f"i-{n}", "NetworkIn", "Sum"): T0 + n for n in range(230)}
    write_items(
        dynamodb,
        table,
        watermark_items(stored, region="us-east-1", ttl_days=15, updated_ms=T0),
        KEY_ATTRIBUTES,
    )
    batch_sizes: list[int] = []

    def hold_back_ten_once(parsed: dict[str, Any], params: Any = None, **_: Any) -> None:
        (responses,) = parsed["Responses"].values()
        batch_sizes.append(len(responses))
        if len(batch_sizes) == 1:
            held, parsed["Responses"][table] = responses[-10:], responses[:-10]
            keys = [{"resource_id": i["resource_id"], "metric_key": i["metric_key"]} for i in held]
            parsed["UnprocessedKeys"] = {table: {"Keys": keys}}

    dynamodb.meta.events.register("after-call.dynamodb.BatchGetItem", hold_back_ten_once)
    unknown = [("i-new", "NetworkIn", "Sum")]

    found = load_watermarks(dynamodb, table, [*stored, *unknown], sleep=lambda _: None)

    assert found == stored
    assert batch_sizes == [100, 10, 100, 30]  # 231 keys: 100 a call, plus the 10 asked again
