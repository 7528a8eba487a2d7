"""The discover_resources flow orchestrates discovery per region and publishes an artifact."""

from __future__ import annotations

import asyncio

from prefect.client.orchestration import get_client

from flows.discover import discover_resources
from oaktree.config import Settings
from tests.fleet import REGIONS, Fleet


async def _artifact_markdown(key: str) -> str:
    async with get_client() as client:
        artifact = await client.read_latest_artifacts()
        return next(a.data for a in artifact if a.key == key)


def test_flow_discovers_all_regions_and_publishes_artifact(
    prefect: None, fleet: Fleet, discovery_settings: Settings
) -> None:
    summary = discover_resources()

    assert summary["failures"] == []
    per_type = summary["resources_by_type_and_region"]
    assert {region: per_type["ec2_instance"][region] for region in REGIONS} == {r: 14 for r in REGIONS}
    assert summary["events_written"] == summary["resources_total"]
    markdown = asyncio.run(_artifact_markdown("discovery"))
    assert "| ec2_instance | us-east-1 | 14 |" in markdown
