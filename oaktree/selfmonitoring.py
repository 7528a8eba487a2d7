"""OakTree's own health, published to CloudWatch (namespace `OakTree`) so alarms watch the monitor.

Metrics, all at 1-minute resolution, each with at most one dimension so that one GetMetricData
(or one alarm) reads a whole family, the same way OakTree reads its targets:

| metric | unit | dimensions | published by |
| --- | --- | --- | --- |
| CollectionLagSeconds | Seconds | Region | collection flow: now minus the newest point stored |
| DatapointsCollected | Count | Region, and none (the total) | collection flow |
| ApiThrottles | Count | Region | collection flow: throttled attempts, every API |
| RegionsFailed | Count | none | collection flow |
| FlowRunsFailed | Count | Flow, and none (the total) | any flow's failure hook |
| NotificationsFailed | Count | Channel, and none (the total) | `record_notifications` (alert engine hook) |
| EvaluationDurationSeconds | Seconds | none | `record_evaluation` (alert engine hook) |

The totals exist because CloudWatch does not add up across dimensions: alarms read them. Infra
(`infra/monitoring.tf`) alarms on these names; `METRIC_NAMES` is the list a test compares.
Publishing never fails the caller: a failure is logged, and the collection alarm, which treats
missing data as breaching, notices silence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from oaktree import aws
from oaktree.config import Settings
from oaktree.logs import get_logger

log = get_logger(__name__)

NAMESPACE = "OakTree"

COLLECTION_LAG = "CollectionLagSeconds"
DATAPOINTS_COLLECTED = "DatapointsCollected"
API_THROTTLES = "ApiThrottles"
REGIONS_FAILED = "RegionsFailed"
FLOW_RUNS_FAILED = "FlowRunsFailed"
NOTIFICATIONS_FAILED = "NotificationsFailed"
EVALUATION_DURATION = "EvaluationDurationSeconds"
METRIC_NAMES = (
    COLLECTION_LAG,
    DATAPOINTS_COLLECTED,
    API_THROTTLES,
    REGIONS_FAILED,
    FLOW_RUNS_FAILED,
    NOTIFICATIONS_FAILED,
    EVALUATION_DURATION,
)

# PutMetricData limits: 1,000 metric data per request and 1 MB of payload. A datum here is well
# under 300 bytes as sent, so 1,000 of them stay far below the byte limit too.
MAX_DATA_PER_CALL = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class HealthPoint:
    """One value of one OakTree health metric."""

    name: str
    value: float
    unit: str
    timestamp: datetime
    dimensions: tuple[tuple[str, str], ...] = ()

    def datum(self) -> dict[str, Any]:
        """Return the point as a PutMetricData MetricDatum."""
        return {
            "MetricName": self.name,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            "Timestamp": self.timestamp,
            "Value": float(self.value),
            "Unit": self.unit,
            "StorageResolution": 60,
        }


def collection_points(report: Any) -> list[HealthPoint]:
    """Return the health points of one collection run (`oaktree.collection.pipeline.CollectionReport`)."""
    at = report.collected_at
    collected_ms = int(at.timestamp() * 1000)
    points: list[HealthPoint] = []
    for region in report.regions:
        dimension = (("Region", region.region),)
        points.append(HealthPoint(DATAPOINTS_COLLECTED, region.datapoints_dynamodb, "Count", at, dimension))
        throttles = sum(region.counters.throttles.values())
        points.append(HealthPoint(API_THROTTLES, throttles, "Count", at, dimension))
        # A region that stored nothing this run has no lag to report; the stalled-collection
        # alarm (on the total) covers a collection that stores nothing anywhere.
        if region.newest_point_ms is not None:
            lag = max(0.0, (collected_ms - region.newest_point_ms) / 1000)
            points.append(HealthPoint(COLLECTION_LAG, lag, "Seconds", at, dimension))
    total = sum(region.datapoints_dynamodb for region in report.regions)
    points.append(HealthPoint(DATAPOINTS_COLLECTED, total, "Count", at))
    points.append(HealthPoint(REGIONS_FAILED, sum(r.failed for r in report.regions), "Count", at))
    return points


def flow_run_points(flow_name: str, *, failed: bool, at: datetime | None = None) -> list[HealthPoint]:
    """Return the points recording one flow run's outcome (1 if it failed, else 0)."""
    at = at or datetime.now(UTC)
    value = 1.0 if failed else 0.0
    return [
        HealthPoint(FLOW_RUNS_FAILED, value, "Count", at, (("Flow", flow_name),)),
        HealthPoint(FLOW_RUNS_FAILED, value, "Count", at),
    ]


def notification_points(
    failed_by_channel: dict[str, int], *, at: datetime | None = None
) -> list[HealthPoint]:
    """Return the points of one notification round: failures per channel and their total."""
    at = at or datetime.now(UTC)
    points = [
        HealthPoint(NOTIFICATIONS_FAILED, count, "Count", at, (("Channel", channel),))
        for channel, count in sorted(failed_by_channel.items())
    ]
    points.append(HealthPoint(NOTIFICATIONS_FAILED, sum(failed_by_channel.values()), "Count", at))
    return points


def evaluation_points(duration_seconds: float, *, at: datetime | None = None) -> list[HealthPoint]:
    """Return the point of one alert evaluation round's duration."""
    return [HealthPoint(EVALUATION_DURATION, duration_seconds, "Seconds", at or datetime.now(UTC))]


def _chunks(data: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def publish(points: Iterable[HealthPoint], *, settings: Settings, cloudwatch: Any | None = None) -> int:
    """Send the points to CloudWatch in as few PutMetricData calls as the limits allow; return the calls.

    Goes to OakTree's home region (`settings.storage_region`), where its alarms live. An AWS error
    is logged and ends publishing (returns the calls made): health reporting never fails a flow.
    """
    data = [point.datum() for point in points]
    if not data:
        return 0
    cloudwatch = cloudwatch or aws.client("cloudwatch", settings.storage_region)
    calls = 0
    for chunk in _chunks(data, MAX_DATA_PER_CALL):
        try:
            cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=list(chunk))
        except (ClientError, BotoCoreError) as exc:
            log.warning(
                "selfmonitoring_publish_failed", reason=str(exc), unsent=len(data) - calls * MAX_DATA_PER_CALL
            )
            return calls
        calls += 1
    return calls


# ---------------------------------------------------------------- hooks for the other flows


def record_flow_run(flow_name: str, *, failed: bool, settings: Settings) -> int:
    """Publish one flow run's outcome; flows call it from their completion and failure hooks."""
    return publish(flow_run_points(flow_name, failed=failed), settings=settings)


def record_notifications(failed_by_channel: dict[str, int], *, settings: Settings) -> int:
    """Publish how many notifications failed per channel in one round (0s included: they clear alarms).

    The alert engine calls this after each delivery round, with every channel it tried.
    """
    return publish(notification_points(failed_by_channel), settings=settings)


def record_evaluation(duration_seconds: float, *, settings: Settings) -> int:
    """Publish how long one alert evaluation round took; the alert engine calls it after each round."""
    return publish(evaluation_points(duration_seconds), settings=settings)
