"""The collect_metrics flow: per-region tasks, an isolated failing region, the run artifact."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prefect.client.orchestration import get_client

import flows.collect as collect_flow
from oaktree import aws as aws_clients
from oaktree.collection.planning import align_down, epoch_ms
from oaktree.collection.ratelimit import reset_limiters
from oaktree.config import Settings, load_settings
from oaktree.discovery.store import save_inventory
from oaktree.storage.tables import METRICS_TABLE, ensure_table
from tests.collection.estate import REGIONS, instance, put_points


async def _artifact_markdown(key: str) -> str:
    async with get_client() as client:
        artifacts = await client.read_latest_artifacts()
        return next(a.data for a in artifacts if a.key == key)


@pytest.fixture
def collect_settings(aws: None, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Two regions, one attempt per call, one instance per region with 5 minutes of CPU data."""
    monkeypatch.setenv("OAKTREE_REGIONS", ",".join(REGIONS))
    monkeypatch.setenv("OAKTREE_COLLECTION_MAX_ATTEMPTS", "1")
    # Task retries without waiting, so the failing-region test stays fast.
    monkeypatch.setattr(
        collect_flow,
        "collect_region_task",
        collect_flow.collect_region_task.with_options(retry_delay_seconds=0),
    )
    reset_limiters()
    settings = load_settings()
    ensure_table(settings.metrics_table, METRICS_TABLE, settings.storage_region)
    resources = [instance(region, 1) for region in REGIONS]
    save_inventory(settings, resources)
    last_minute = datetime.fromtimestamp(align_down(epoch_ms(datetime.now(UTC)), 60) / 1000, UTC)
    for resource in resources:
        moments = [last_minute - timedelta(minutes=n) for n in range(1, 6)]
        put_points(
            resource.region,
            "AWS/EC2",
            "CPUUtilization",
            {"InstanceId": resource.resource_id},
            [(moment, 10.0 + n) for n, moment in enumerate(moments)],
            "Percent",
        )
    return settings


def test_the_flow_collects_every_region_and_publishes_an_artifact(
    prefect: None, collect_settings: Settings
) -> None:
    summary = collect_flow.collect_metrics()

    assert summary["failed_regions"] == []
    assert summary["series"] == 14
    # 5 minutes x (Average, Maximum) x 2 regions, all before the window's end.
    assert summary["datapoints_stored"] == {"dynamodb": 20, "warehouse": 20}
    assert summary["api_calls"]["GetMetricData"] == 2
    markdown = asyncio.run(_artifact_markdown("collection"))
    assert "| region | series | datapoints (DynamoDB / warehouse) |" in markdown
    assert "| us-east-1 | 7 |" in markdown and "| ap-southeast-1 | 7 |" in markdown


def test_a_failing_region_is_retried_then_reported_while_the_other_completes(
    prefect: None, collect_settings: Settings
) -> None:
    attempts: list[str] = []

    def throttle_us_east(request_signer: Any, **_: Any) -> tuple[Any, dict[str, Any]] | None:
        if request_signer.region_name != "us-east-1":
            return None
        attempts.append("us-east-1")
        http = type("ThrottledHttpResponse", (), {"status_code": 400, "headers": {}})()
        return http, {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}

    aws_clients.add_event_handler("before-call.cloudwatch.GetMetricData", throttle_us_east)

    summary = collect_flow.collect_metrics()

    (failed,) = summary["failed_regions"]
    assert failed["region"] == "us-east-1"
    assert "ThrottlingException" in failed["reason"]
    assert len(attempts) == 3  # the task ran once and was retried twice
    assert summary["regions"]["ap-southeast-1"]["error"] is None
    assert summary["regions"]["ap-southeast-1"]["datapoints_stored"]["dynamodb"] == 10
    markdown = asyncio.run(_artifact_markdown("collection"))
    assert "1 region(s) failed" in markdown


def _oaktree_metrics(region: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    listed = aws_clients.client("cloudwatch", region).list_metrics(Namespace="OakTree")["Metrics"]
    return {
        (metric["MetricName"], tuple((d["Name"], d["Value"]) for d in metric["Dimensions"]))
        for metric in listed
    }


def test_the_flow_publishes_oaktree_health_to_its_home_region(
    prefect: None, collect_settings: Settings
) -> None:
    collect_flow.collect_metrics()

    published = _oaktree_metrics(collect_settings.storage_region)
    for region in REGIONS:
        assert ("CollectionLagSeconds", (("Region", region),)) in published
        assert ("DatapointsCollected", (("Region", region),)) in published
        assert ("ApiThrottles", (("Region", region),)) in published
    assert {("DatapointsCollected", ()), ("RegionsFailed", ())} <= published
