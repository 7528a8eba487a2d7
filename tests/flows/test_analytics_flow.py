"""The analyse_history flow: anomalies stored and recorded as events, forecasts stored, the artifact."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prefect.client.orchestration import get_client

from oaktree.analytics.anomalies import ANOMALY_EVENT
from oaktree.config import Settings
from oaktree.eventlog import read_resource_events
from oaktree.storage.tables import ensure_tables
from oaktree.warehouse import connect, read
from sandbox.metric_generator import Role
from tests.analytics.conftest import SANDBOX_START as END
from tests.analytics.conftest import build_day_of_sandbox


async def _artifact_markdown(key: str) -> str:
    async with get_client() as client:
        artifacts = await client.read_latest_artifacts()
        return next(a.data for a in artifacts if a.key == key)


def test_the_flow_stores_findings_records_events_and_publishes_headlines(
    prefect: None, aws: None, settings: Settings
) -> None:
    from flows.analytics import analyse_history

    ensure_tables(
        metrics_table=settings.metrics_table,
        events_table=settings.events_table,
        region=settings.storage_region,
    )
    # The analysis ends at the start of an hour, after a day holding four whole incidents.
    end = END.replace(minute=0)
    fleet = build_day_of_sandbox(settings, end)

    summary = analyse_history(end=end + timedelta(minutes=30))

    incident = next(sim.resource for sim in fleet if sim.role is Role.INCIDENT)
    assert summary["analysed_until"] == end.isoformat()
    assert summary["anomaly_episodes"] == 4  # the incident, every 6 hours
    assert {row["resource_id"] for row in summary["top_anomalies"]} == {incident.resource_id}
    assert summary["forecast_series"] == 3  # CPU of three running instances
    assert summary["recommendations"] == 0  # a day of history is no evidence for rightsizing
    with connect(settings=settings) as connection:
        counts = read.table_counts(connection)
        warehouse_events = read.events(connection, event_types=[ANOMALY_EVENT])
    assert counts["forecasts"] == 3 * 24
    assert counts["anomalies"] > 0
    assert len(warehouse_events) == 4
    dynamodb_events = read_resource_events(settings, incident.resource_id)
    assert [event["event_type"] for event in dynamodb_events] == [ANOMALY_EVENT] * 4
    markdown = asyncio.run(_artifact_markdown("analytics"))
    assert "- 4 anomaly episode(s) in the last 24 hours" in markdown
    assert "## Nearest capacity thresholds" in markdown

    analyse_history(end=end)  # a re-run stores nothing twice
    with connect(settings=settings) as connection:
        assert read.table_counts(connection)["forecasts"] == 3 * 24
        assert len(read.events(connection, event_types=[ANOMALY_EVENT])) == 4
