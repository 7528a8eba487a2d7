"""`oaktree serve` serves exactly the deployments and schedules declared in prefect.yaml."""

from __future__ import annotations

from datetime import timedelta

import yaml

from flows.serve import PREFECT_YAML, load_deployments


def test_every_declared_deployment_is_served_with_its_schedule() -> None:
    declared = yaml.safe_load(PREFECT_YAML.read_text())["deployments"]
    deployments = {deployment.name: deployment for deployment in load_deployments()}

    assert set(deployments) == {
        "discovery",
        "collection",
        "rollups",
        "retention",
        "compaction",
        "evaluate_alerts",
        "analytics",
    }
    assert {d.flow_name for d in deployments.values()} == {
        "discover_resources",
        "collect_metrics",
        "rollup_metrics",
        "apply_warehouse_retention",
        "compact_warehouse",
        "evaluate_alerts",
        "analyse_history",
    }
    intervals = {
        name: deployment.schedules[0].schedule.interval
        for name, deployment in deployments.items()
        if hasattr(deployment.schedules[0].schedule, "interval")
    }
    assert intervals == {
        "discovery": timedelta(minutes=10),
        "collection": timedelta(minutes=1),
        "rollups": timedelta(minutes=5),
        "compaction": timedelta(hours=1),
        "evaluate_alerts": timedelta(minutes=1),
    }
    assert deployments["retention"].schedules[0].schedule.cron == "15 3 * * *"
    assert deployments["analytics"].schedules[0].schedule.cron == "45 3 * * *"
    for spec in declared:
        assert deployments[spec["name"]].concurrency_limit == spec["concurrency_limit"] == 1
