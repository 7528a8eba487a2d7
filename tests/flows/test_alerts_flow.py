"""The evaluate_alerts flow: a pass, a send task whose retry delivers exactly once, events, the artifact."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from prefect.client.orchestration import get_client

import flows.alerts as alerts_flow
from oaktree import db
from oaktree.alerts import service
from oaktree.auth.roles import Principal
from oaktree.config import load_settings
from oaktree.storage.tables import ensure_tables
from sandbox.sinks import ScriptedAnswer, WebhookSink
from tests.alerts.estate import API, WEB, cpu_rule, minute_points, save_estate, write

OPERATOR = Principal(user_id=None, username="ops", roles=("operator",))


async def _artifact_markdown(key: str) -> str:
    async with get_client() as client:
        artifacts = await client.read_latest_artifacts()
        return next(a.data for a in artifacts if a.key == key)


@pytest.fixture
def hook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def test_the_flow_fires_and_its_retried_send_task_delivers_once(
    prefect: None, aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hook: WebhookSink
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("OAKTREE_DATABASE_URL", url)
    monkeypatch.setenv("OAKTREE_ALERT_RETRY_BASE_SECONDS", "0")
    monkeypatch.setattr(
        alerts_flow,
        "send_notifications_task",
        alerts_flow.send_notifications_task.with_options(retry_delay_seconds=0),
    )
    settings = load_settings()
    db.upgrade(url)
    ensure_tables(
        metrics_table=settings.metrics_table,
        events_table=settings.events_table,
        region=settings.storage_region,
    )
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    save_estate(settings)
    write(
        settings,
        minute_points(WEB, [50] * 5 + [97] * 5, start=start),
        minute_points(API, [50] * 10, start=start),
    )
    with db.session_scope(settings=settings) as session:
        service.put_channel(
            session=session, principal=OPERATOR, draft={"name": "hook", "type": "webhook", "url": hook.url}
        )
        service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=["hook"]))
    # The receiver fails the first delivery; the task raises, Prefect retries it, the retry delivers.
    hook.script(ScriptedAnswer(500, body={"error": "restarting"}))

    summary = alerts_flow.evaluate_alerts()

    assert sorted((t["resource_id"], t["to"]) for t in summary["transitions"]) == [
        ("i-api", "OK"),
        ("i-web", "ALARM"),
    ]
    assert summary["notifications"]["sent"] == 1 and summary["sending_failure"] is None
    assert summary["events_recorded"] == 2
    assert [r["status"] for r in hook.received()] == [500, 200]
    # A second run (the next minute) neither evaluates anything new nor sends again.
    again = alerts_flow.evaluate_alerts()
    assert (again["transitions"], again["notifications"]["sent"]) == ([], 0)
    assert len(hook.received()) == 2
    # OakTree's own health: the evaluation time and the channel's failed deliveries (the 500).
    cloudwatch = boto3.client("cloudwatch", region_name=settings.storage_region)
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="OakTree")["Metrics"]}
    assert {"EvaluationDurationSeconds", "NotificationsFailed"} <= names
    markdown = asyncio.run(_artifact_markdown("alerts"))
    assert (
        "| rules | targets | series read | queries | transitions | notifications queued | held |" in markdown
    )
    assert "0 transitions recorded as events." in markdown
