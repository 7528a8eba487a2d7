"""A region's batches run side by side while GetMetricData keeps them waiting, one at a time otherwise."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oaktree.collection import pipeline
from oaktree.collection.concurrency import InFlightLimit
from oaktree.config import load_settings
from oaktree.inventory import Resource, ResourceType

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INSTANCES = 430  # x 7 catalogue metrics: 3,010 series, seven GetMetricData batches


class CloudWatchWithLatency:
    """GetMetricData answering every query with two points after `latency` seconds; counts overlap."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.active = self.peak = self.calls = 0
        self._lock = threading.Lock()

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.latency)
        with self._lock:
            self.active -= 1
        end: datetime = request["EndTime"]
        stamps = [end - timedelta(minutes=2), end - timedelta(minutes=1)]
        return {
            "MetricDataResults": [
                {
                    "Id": q["Id"],
                    "Label": q["Id"],
                    "Timestamps": stamps,
                    "Values": [1.0, 2.0],
                    "StatusCode": "Complete",
                }
                for q in request["MetricDataQueries"]
            ]
        }


class AcceptingDynamoDB:
    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {table: [] for table in RequestItems}, "UnprocessedKeys": {}}


def instances() -> list[Resource]:
    return [
        Resource(
            f"i-{n:017x}",
            f"arn:aws:ec2:us-east-1:1:instance/i-{n:017x}",
            ResourceType.EC2_INSTANCE,
            "us-east-1",
            f"host-{n}",
            "running",
        )
        for n in range(INSTANCES)
    ]


def collect(tmp_path: Path, cloudwatch: CloudWatchWithLatency) -> pipeline.RegionReport:
    settings = load_settings(
        data_dir=tmp_path,
        regions=("us-east-1",),
        collection_threads=4,
        getmetricdata_tps=1000,
        backfill_lookback_minutes=5,
    )
    return pipeline.collect_region(
        "us-east-1",
        instances(),
        settings=settings,
        now=NOW,
        cloudwatch=cloudwatch,
        dynamodb=AcceptingDynamoDB(),
        write_warehouse=lambda points: points.num_rows,
    )


def test_batches_waiting_on_aws_overlap_up_to_the_configured_threads(tmp_path: Path) -> None:
    cloudwatch = CloudWatchWithLatency(latency=0.3)

    report = collect(tmp_path, cloudwatch)

    assert report.batches == cloudwatch.calls == 7
    assert 2 <= cloudwatch.peak <= 4


def test_batches_that_only_compute_run_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without latency a batch's time is its own CPU: measured with one clock for both, so a busy
    # test host cannot make it look like waiting.
    monkeypatch.setattr(
        pipeline, "InFlightLimit", lambda maximum: InFlightLimit(maximum, cpu_clock=time.perf_counter)
    )
    cloudwatch = CloudWatchWithLatency(latency=0.0)

    report = collect(tmp_path, cloudwatch)

    assert report.batches == cloudwatch.calls == 7
    assert cloudwatch.peak == 1
