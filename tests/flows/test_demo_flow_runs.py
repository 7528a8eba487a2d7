"""The demo's first pass as Prefect flow runs: what `make demo` shows in the Prefect UI from minute one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName

from cli.demo import run_pipeline, use_fresh_demo_dir
from oaktree import config
from oaktree.config import load_settings
from sandbox.server import start_sandbox

REGIONS = ("us-east-1",)
FLOWS = ("discover_resources", "collect_metrics", "rollup_metrics", "evaluate_alerts")


async def _completed_runs(flow_names: tuple[str, ...]) -> dict[str, int]:
    async with get_client() as client:
        runs = await client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=list(flow_names))))
        flows = {flow.id: flow.name for flow in await client.read_flows()}
    counts = dict.fromkeys(flow_names, 0)
    for run in runs:
        if run.state is not None and run.state.is_completed():
            counts[flows[run.flow_id]] += 1
    return counts


@pytest.fixture
def demo_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Let the demo set what it sets; monkeypatch restores every variable afterwards."""
    for name, value in {
        "OAKTREE_DATA_DIR": str(tmp_path),
        "OAKTREE_REGIONS": ",".join(REGIONS),
        "OAKTREE_BACKFILL_LOOKBACK_MINUTES": "60",
    }.items():
        monkeypatch.setenv(name, value)
    # Set, then unset: monkeypatch then removes whatever the demo sets in them.
    for name in (
        "OAKTREE_DATABASE_URL",
        "OAKTREE_SMTP_HOST",
        "OAKTREE_SMTP_PORT",
        "OAKTREE_SMTP_STARTTLS",
        "OAKTREE_DEMO_WEBHOOK_URL",
    ):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    yield
    config.get_settings.cache_clear()


def test_the_first_pass_runs_as_flow_runs_the_prefect_ui_lists(prefect: None, demo_environment: None) -> None:
    before = asyncio.run(_completed_runs(FLOWS))
    settings = use_fresh_demo_dir(load_settings())
    with start_sandbox(port=0, regions=REGIONS, seed=7, settings=settings, backfill_hours=1, live=False):
        summary = run_pipeline(settings, as_flow_runs=True)

    after = asyncio.run(_completed_runs(FLOWS))
    assert {name: after[name] - before[name] for name in FLOWS} == dict.fromkeys(FLOWS, 1)
    assert summary["flow_runs"] is True
    assert summary["discovery"]["resources_total"] > 0
    assert summary["collection"]["datapoints_stored"]["warehouse"] > 0
    assert summary["collection"]["failed_regions"] == []
    # The flows' summaries feed the same demo summary as the in-process pass.
    assert "ALARM" in {transition["to"] for transition in summary["alerts"]["transitions"]}
