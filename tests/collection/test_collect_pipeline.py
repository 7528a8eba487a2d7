"""End to end against moto: CloudWatch values land exactly once, in DynamoDB and in the warehouse."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import duckdb
import pytest

from oaktree import aws as aws_clients
from oaktree.collection.pipeline import RegionCollectionFailed, collect_once, collect_region
from oaktree.collection.planning import epoch_ms
from oaktree.config import Settings, load_settings
from oaktree.inventory import Resource, ResourceType
from oaktree.storage.metrics_store import query_points
from oaktree.storage.tables import WATERMARK_PREFIX
from oaktree.warehouse import connect
from oaktree.warehouse.lake import open_for_writing
from tests.collection.estate import (
    NOW,
    WINDOW_END,
    dynamodb_table,
    instance,
    minutes_before_end,
    put_points,
)

Point = tuple[str, str, str, int, float]  # (resource_id, metric_name, statistic, epoch ms, value)


def throttle_response() -> tuple[Any, dict[str, Any]]:
    """What a before-call hook returns to make botocore raise ThrottlingException for one call."""
    http = type("ThrottledHttpResponse", (), {"status_code": 400, "headers": {}})()
    return http, {
        "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }


def scan_table(settings: Settings) -> list[dict[str, Any]]:
    client = aws_clients.client("dynamodb", settings.storage_region)
    pages = client.get_paginator("scan").paginate(TableName=settings.metrics_table)
    return [item for page in pages for item in page["Items"]]


def dynamodb_points(settings: Settings) -> list[Point]:
    return sorted(
        (
            item["resource_id"]["S"],
            item["metric_name"]["S"],
            item["statistic"]["S"],
            int(item["timestamp"]["N"]),
            float(item["value"]["N"]),
        )
        for item in scan_table(settings)
        if not item["metric_key"]["S"].startswith(WATERMARK_PREFIX)
    )


def warehouse_points(settings: Settings) -> list[Point]:
    """Return the points the warehouse's `metrics` table holds (what analysts and the dashboard read)."""
    with connect(settings=settings) as connection:
        rows = connection.execute(
            "SELECT resource_id, metric_name, statistic, epoch_ms(ts), value FROM metrics ORDER BY ALL"
        ).fetchall()
    return [tuple(row) for row in rows]


def put_minutes(
    resource: Resource, metric: str, dims: dict[str, str], values: list[float], unit: str
) -> None:
    namespace = {ResourceType.EC2_INSTANCE: "AWS/EC2", ResourceType.DYNAMODB_TABLE: "AWS/DynamoDB"}
    moments = minutes_before_end(len(values))
    put_points(
        resource.region,
        namespace[resource.resource_type],
        metric,
        dims,
        list(zip(moments, values, strict=True)),
        unit,
    )


def expected(
    resource: Resource, metric: str, statistics: tuple[str, ...], values: list[float]
) -> list[Point]:
    moments = minutes_before_end(len(values))
    return [
        (resource.resource_id, metric, stat, epoch_ms(moment), value)
        for moment, value in zip(moments, values, strict=True)
        for stat in statistics
    ]


@pytest.fixture
def estate(metrics_table: str) -> tuple[list[Resource], list[Point]]:
    """Three instances and a table in two regions, with known values; return resources and expected points."""
    web, api, tokyo_like = instance("us-east-1", 1), instance("us-east-1", 2), instance("ap-southeast-1", 3)
    orders = dynamodb_table("us-east-1", "orders")
    cpu = [0.1, 1 / 3, 99.99, 12.5, 0.0, 42.0]
    net = [123456789.0, 5e-7, 7.0, 1024.0, 3.25, 8.0]
    put_minutes(web, "CPUUtilization", {"InstanceId": web.resource_id}, cpu, "Percent")
    put_minutes(web, "NetworkIn", {"InstanceId": web.resource_id}, net, "Bytes")
    put_minutes(api, "CPUUtilization", {"InstanceId": api.resource_id}, [55.5] * 4, "Percent")
    put_minutes(tokyo_like, "StatusCheckFailed", {"InstanceId": tokyo_like.resource_id}, [0.0, 1.0], "Count")
    latency = [4.75, 5.125, 3.0]
    put_minutes(
        orders,
        "SuccessfulRequestLatency",
        {"TableName": "orders", "Operation": "PutItem"},
        latency,
        "Milliseconds",
    )
    points = sorted(
        expected(web, "CPUUtilization", ("Average", "Maximum"), cpu)
        + expected(web, "NetworkIn", ("Sum",), net)
        + expected(api, "CPUUtilization", ("Average", "Maximum"), [55.5] * 4)
        + expected(tokyo_like, "StatusCheckFailed", ("Maximum",), [0.0, 1.0])
        + expected(orders, "SuccessfulRequestLatency:PutItem", ("Average",), latency)
    )
    return [web, api, tokyo_like, orders], points


def test_values_put_into_cloudwatch_are_the_values_stored_in_both_stores(
    collection_settings: Settings, estate: tuple[list[Resource], list[Point]]
) -> None:
    resources, points = estate

    report = collect_once(settings=collection_settings, resources=resources, now=NOW)

    assert dynamodb_points(collection_settings) == points
    assert warehouse_points(collection_settings) == points
    summary = report.to_dict()
    assert summary["datapoints_stored"] == {"dynamodb": len(points), "warehouse": len(points)}
    assert summary["series"] == 3 * 7 + 7
    assert summary["api_calls"]["GetMetricData"] == 2  # one full request per region
    assert summary["api_calls"]["BatchGetItem"] == 2
    assert summary["throttles"] == {} and summary["failed_regions"] == []
    assert summary["lag_seconds"] == 90.0  # newest point 11:59:00, now 12:00:30


def test_two_metrics_and_two_statistics_at_one_timestamp_are_all_kept(
    collection_settings: Settings, estate: tuple[list[Resource], list[Point]]
) -> None:
    resources, _ = estate
    web = resources[0]
    collect_once(settings=collection_settings, resources=resources, now=NOW)
    client = aws_clients.client("dynamodb", collection_settings.storage_region)
    moment = epoch_ms(WINDOW_END - timedelta(minutes=1))

    def at_moment(metric: str, statistic: str) -> list[float]:
        found = query_points(
            client,
            collection_settings.metrics_table,
            resource_id=web.resource_id,
            metric_name=metric,
            statistic=statistic,
            start_ms=moment,
            end_ms=moment + 60_000,
        )
        return [point["value"] for point in found]

    assert at_moment("CPUUtilization", "Average") == [42.0]
    assert at_moment("CPUUtilization", "Maximum") == [42.0]
    assert at_moment("NetworkIn", "Sum") == [8.0]


def test_a_rerun_over_the_same_window_changes_nothing(
    collection_settings: Settings, estate: tuple[list[Resource], list[Point]]
) -> None:
    resources, points = estate
    collect_once(settings=collection_settings, resources=resources, now=NOW)
    items_before = sorted(
        scan_table(collection_settings), key=lambda i: (i["resource_id"]["S"], i["metric_key"]["S"])
    )

    report = collect_once(settings=collection_settings, resources=resources, now=NOW)

    items_after = sorted(
        scan_table(collection_settings), key=lambda i: (i["resource_id"]["S"], i["metric_key"]["S"])
    )
    assert items_after == items_before
    assert warehouse_points(collection_settings) == points
    # The second run re-read only the 3-minute settling overlap.
    assert report.to_dict()["datapoints_stored"]["dynamodb"] == sum(
        1 for p in points if p[3] >= epoch_ms(WINDOW_END) - 180_000
    )


def test_a_run_that_crashes_before_its_watermarks_is_redone_without_gap_or_duplicate(
    collection_settings: Settings, metrics_table: str
) -> None:
    web = instance("us-east-1", 1)
    values = [float(n) for n in range(20)]
    put_minutes(web, "NetworkOut", {"InstanceId": web.resource_id}, values, "Bytes")
    earlier = NOW - timedelta(minutes=12)

    def disk_full(points: Any) -> int:
        raise OSError("No space left on device")

    # The first run stores in DynamoDB, then dies writing the warehouse: watermarks must not move.
    with pytest.raises(OSError, match="No space"):
        collect_region(
            "us-east-1", [web], settings=collection_settings, now=earlier, write_warehouse=disk_full
        )
    # Collection then stops for 12 minutes; the next run must cover everything since the lookback.
    collect_once(settings=collection_settings, resources=[web], regions=["us-east-1"], now=NOW)

    want = expected(web, "NetworkOut", ("Sum",), values)
    assert dynamodb_points(collection_settings) == sorted(want)
    assert warehouse_points(collection_settings) == sorted(want)
    minutes = [point[3] for point in dynamodb_points(collection_settings)]
    assert minutes == list(range(minutes[0], minutes[-1] + 60_000, 60_000))  # contiguous, one each


def test_a_restart_resumes_from_the_watermark(collection_settings: Settings, metrics_table: str) -> None:
    web = instance("us-east-1", 1)
    values = [float(n) * 1.5 for n in range(20)]
    put_minutes(web, "DiskReadOps", {"InstanceId": web.resource_id}, values, "Count")

    first = collect_once(settings=collection_settings, resources=[web], now=NOW - timedelta(minutes=8))
    second = collect_once(settings=collection_settings, resources=[web], now=NOW)

    want = sorted(expected(web, "DiskReadOps", ("Sum",), values))
    assert dynamodb_points(collection_settings) == want
    assert warehouse_points(collection_settings) == want
    # 12 points up to 11:52, then 8 new minutes plus the 3-minute overlap.
    assert first.to_dict()["datapoints_stored"]["dynamodb"] == 12
    assert second.to_dict()["datapoints_stored"]["dynamodb"] == 11


def test_1200_series_take_three_getmetricdata_calls(
    collection_settings: Settings, metrics_table: str
) -> None:
    service = ResourceType.ECS_SERVICE
    resources = [instance("us-east-1", n) for n in range(168)] + [
        Resource(f"arn:svc/{n}", f"arn:svc/{n}", service, "us-east-1", f"svc-{n}", "ACTIVE", cluster="main")
        for n in range(6)
    ]
    sizes: list[int] = []
    aws_clients.add_event_handler(
        "provide-client-params.cloudwatch.GetMetricData",
        lambda params, **_: sizes.append(len(params["MetricDataQueries"])),
    )

    report = collect_once(settings=collection_settings, resources=resources, regions=["us-east-1"], now=NOW)

    summary = report.to_dict()
    assert summary["series"] == 1200
    assert sorted(sizes) == [200, 500, 500]
    assert summary["api_calls"]["GetMetricData"] == 3
    assert summary["api_calls"]["BatchGetItem"] == 12  # 100 watermark keys a call
    assert summary["api_calls"]["BatchWriteItem"] == 48  # 1,200 watermarks, 25 a call; no datapoints


def test_throttling_and_unprocessed_items_still_store_every_point_once(
    monkeypatch: pytest.MonkeyPatch, estate: tuple[list[Resource], list[Point]]
) -> None:
    monkeypatch.setenv("OAKTREE_COLLECTION_THREADS", "1")
    settings = load_settings()
    resources, points = estate
    calls = Counter[str]()

    def throttle_first_two(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        calls["GetMetricData"] += 1
        return throttle_response() if calls["GetMetricData"] <= 2 else None

    lock = threading.Lock()

    def hold_back_five(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        ((table, requests),) = params["RequestItems"].items()
        with lock:
            if calls["held_back"] == 2 or len(requests) <= 5:
                return
            calls["held_back"] += 1
        # DynamoDB "accepts" all but the last five; the caller's own list is left untouched.
        context["held_back"] = requests[-5:]
        params["RequestItems"] = {table: requests[:-5]}

    def report_held_back(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "held_back" in context:
            parsed["UnprocessedItems"] = {settings.metrics_table: context["held_back"]}

    aws_clients.add_event_handler("before-call.cloudwatch.GetMetricData", throttle_first_two)
    aws_clients.add_event_handler("provide-client-params.dynamodb.BatchWriteItem", hold_back_five)
    aws_clients.add_event_handler("after-call.dynamodb.BatchWriteItem", report_held_back)

    report = collect_once(settings=settings, resources=resources, now=NOW)

    assert dynamodb_points(settings) == points
    assert warehouse_points(settings) == points
    summary = report.to_dict()
    assert summary["throttles"] == {"GetMetricData": 2}
    assert summary["api_calls"]["GetMetricData"] == 4  # two requests, two throttled attempts
    assert sum(r["unprocessed_retries"] for r in summary["regions"].values()) == 2
    assert summary["datapoints_stored"]["dynamodb"] == len(points)
    assert summary["failed_regions"] == []


def test_a_region_that_keeps_failing_is_reported_and_the_others_complete(
    monkeypatch: pytest.MonkeyPatch, estate: tuple[list[Resource], list[Point]]
) -> None:
    monkeypatch.setenv("OAKTREE_COLLECTION_MAX_ATTEMPTS", "2")
    settings = load_settings()
    resources, points = estate

    def throttle_one_region(request_signer: Any, **_: Any) -> tuple[Any, dict[str, Any]] | None:
        return throttle_response() if request_signer.region_name == "ap-southeast-1" else None

    aws_clients.add_event_handler("before-call.cloudwatch.GetMetricData", throttle_one_region)

    report = collect_once(settings=settings, resources=resources, now=NOW)

    summary = report.to_dict()
    (failed,) = summary["failed_regions"]
    assert failed["region"] == "ap-southeast-1"
    assert "ThrottlingException" in failed["reason"]
    assert summary["regions"]["ap-southeast-1"]["throttles"] == {"GetMetricData": 2}
    assert dynamodb_points(settings) == [p for p in points if not p[0].startswith("i-apsouth")]
    # Its watermarks did not move: once the region recovers, the same window is read in full.
    aws_clients.reset_clients()
    collect_once(settings=settings, resources=resources, now=NOW)
    assert dynamodb_points(settings) == points


def test_collect_region_raises_with_its_report_when_batches_fail(
    collection_settings: Settings, estate: tuple[list[Resource], list[Point]]
) -> None:
    resources, _ = estate
    aws_clients.add_event_handler("before-call.cloudwatch.GetMetricData", lambda **_: throttle_response())

    with pytest.raises(RegionCollectionFailed) as failure:
        collect_region("us-east-1", resources, settings=collection_settings, now=NOW, sleep=lambda _: None)

    assert failure.value.report.batches == 1
    assert failure.value.report.counters.to_dict()["throttles"] == {"GetMetricData": 6}


def test_the_warehouse_can_be_read_while_collection_writes(
    collection_settings: Settings, metrics_table: str
) -> None:
    fleet = [instance("us-east-1", n) for n in range(40)]
    for resource in fleet:
        put_minutes(
            resource,
            "CPUUtilization",
            {"InstanceId": resource.resource_id},
            [float(n) for n in range(30)],
            "Percent",
        )
    open_for_writing(collection_settings).close()  # the reader starts before the first write
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read_until_done() -> None:
        while not done.is_set():
            try:
                with connect(settings=collection_settings) as connection:
                    seen.append(connection.execute("SELECT count(*) FROM metrics").fetchall()[0][0])
            except duckdb.Error as exc:
                errors.append(exc)

    reader = threading.Thread(target=read_until_done)
    reader.start()
    try:
        for minutes_later in (0, 5, 10):
            collect_once(
                settings=collection_settings,
                resources=fleet,
                regions=["us-east-1"],
                now=NOW - timedelta(minutes=10 - minutes_later),
            )
    finally:
        done.set()
        reader.join()

    assert errors == []
    assert seen, "the reader never ran"
    assert seen == sorted(seen)  # readers only ever see whole commits: counts never go back
    assert len(warehouse_points(collection_settings)) == 40 * 30 * 2
