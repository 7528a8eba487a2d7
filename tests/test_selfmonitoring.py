"""Self-monitoring: the points of a collection run, batching within PutMetricData's limits, on moto."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from structlog.testing import capture_logs

from oaktree import aws as aws_clients
from oaktree import selfmonitoring
from oaktree.collection.api_calls import ApiCounters
from oaktree.collection.pipeline import CollectionReport, RegionReport
from oaktree.config import Settings
from oaktree.selfmonitoring import HealthPoint
from tests.notify.smtp_sink import free_port

AT = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
AT_MS = int(AT.timestamp() * 1000)


def _report() -> CollectionReport:
    throttled = ApiCounters()
    throttled.throttles.update({"GetMetricData": 3, "BatchWriteItem": 2})
    return CollectionReport(
        collected_at=AT,
        regions=[
            RegionReport(
                region="us-east-1",
                datapoints_dynamodb=120,
                newest_point_ms=AT_MS - 90_000,
                counters=throttled,
            ),
            # Stored nothing (no resources there): no lag to report, but its datapoints and throttles are 0.
            RegionReport(region="eu-west-1"),
            RegionReport(region="ap-southeast-1", error="EndpointConnectionError: down"),
        ],
    )


def _as_tuples(points: list[HealthPoint]) -> set[tuple[str, float, tuple[tuple[str, str], ...]]]:
    return {(point.name, point.value, point.dimensions) for point in points}


def test_collection_points_per_region_and_totals() -> None:
    points = selfmonitoring.collection_points(_report())

    assert _as_tuples(points) == {
        ("DatapointsCollected", 120, (("Region", "us-east-1"),)),
        ("ApiThrottles", 5, (("Region", "us-east-1"),)),
        ("CollectionLagSeconds", 90.0, (("Region", "us-east-1"),)),
        ("DatapointsCollected", 0, (("Region", "eu-west-1"),)),
        ("ApiThrottles", 0, (("Region", "eu-west-1"),)),
        ("DatapointsCollected", 0, (("Region", "ap-southeast-1"),)),
        ("ApiThrottles", 0, (("Region", "ap-southeast-1"),)),
        ("DatapointsCollected", 120, ()),
        ("RegionsFailed", 1, ()),
    }
    assert {point.timestamp for point in points} == {AT}
    assert {point.name for point in points} <= set(selfmonitoring.METRIC_NAMES)


def test_hooks_for_flows_notifications_and_evaluation() -> None:
    assert _as_tuples(selfmonitoring.flow_run_points("collect_metrics", failed=True, at=AT)) == {
        ("FlowRunsFailed", 1.0, (("Flow", "collect_metrics"),)),
        ("FlowRunsFailed", 1.0, ()),
    }
    assert _as_tuples(selfmonitoring.notification_points({"slack": 2, "email": 0}, at=AT)) == {
        ("NotificationsFailed", 2, (("Channel", "slack"),)),
        ("NotificationsFailed", 0, (("Channel", "email"),)),
        ("NotificationsFailed", 2, ()),
    }
    [duration] = selfmonitoring.evaluation_points(4.5, at=AT)
    assert (duration.name, duration.value, duration.unit) == ("EvaluationDurationSeconds", 4.5, "Seconds")


class CountingCloudWatch:
    """Records each PutMetricData call's size, then hands it to moto's CloudWatch."""

    def __init__(self, region: str) -> None:
        self.client = aws_clients.client("cloudwatch", region)
        self.sizes: list[int] = []

    def put_metric_data(self, **kwargs: Any) -> Any:
        self.sizes.append(len(kwargs["MetricData"]))
        return self.client.put_metric_data(**kwargs)


def test_publish_batches_within_the_api_limit(aws: None, settings: Settings) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    points = [
        HealthPoint(
            "DatapointsCollected",
            float(index),
            "Count",
            now - timedelta(minutes=index % 60),
            (("Region", f"r{index % 25}"),),
        )
        for index in range(2_345)
    ]
    cloudwatch = CountingCloudWatch(settings.storage_region)

    calls = selfmonitoring.publish(points, settings=settings, cloudwatch=cloudwatch)

    assert calls == 3
    assert cloudwatch.sizes == [1000, 1000, 345]
    listed = boto3.client("cloudwatch", region_name=settings.storage_region).list_metrics(Namespace="OakTree")
    regions = Counter(d["Value"] for metric in listed["Metrics"] for d in metric["Dimensions"])
    assert len(regions) == 25


def test_published_points_read_back_with_get_metric_data(aws: None, settings: Settings) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    report = _report()
    report.collected_at = now
    report.regions[0].newest_point_ms = int(now.timestamp() * 1000) - 60_000

    assert selfmonitoring.publish(selfmonitoring.collection_points(report), settings=settings) == 1

    cloudwatch = boto3.client("cloudwatch", region_name=settings.storage_region)
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "lag",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "OakTree",
                        "MetricName": "CollectionLagSeconds",
                        "Dimensions": [{"Name": "Region", "Value": "us-east-1"}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            },
            {
                # (moto matches a query without dimensions to every series of the name, so the
                # dimensionless DatapointsCollected total cannot be read back exactly here.)
                "Id": "failed",
                "MetricStat": {
                    "Metric": {"Namespace": "OakTree", "MetricName": "RegionsFailed"},
                    "Period": 60,
                    "Stat": "Sum",
                },
            },
        ],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
    )
    values = {series["Id"]: series["Values"] for series in result["MetricDataResults"]}
    assert values == {"lag": [60.0], "failed": [1.0]}


def test_publishing_failure_is_logged_and_never_raised(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    aws_clients.reset_clients()

    with capture_logs() as logs:
        calls = selfmonitoring.publish(selfmonitoring.collection_points(_report()), settings=settings)

    assert calls == 0
    [warning] = [entry for entry in logs if entry["event"] == "selfmonitoring_publish_failed"]
    assert warning["log_level"] == "warning"
    assert warning["unsent"] == 9
    assert selfmonitoring.publish([], settings=settings) == 0
