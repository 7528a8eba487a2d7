"""The rollup and retention flows run their tasks and return the reports."""

from __future__ import annotations

from oaktree.config import Settings
from oaktree.warehouse.points import write_points
from oaktree.warehouse.query import view_counts
from tests.warehouse.builders import points


def test_rollup_flow_then_retention_flow(prefect: None, settings: Settings) -> None:
    from flows.rollup import apply_warehouse_retention, rollup_metrics

    write_points(settings.warehouse_dir, points([1, 2, 3]))

    summary = rollup_metrics()

    assert summary["raw_partitions"] == 1
    # The points are from 2024, older than the 1-minute retention: their day bucket is not recomputed.
    assert summary["buckets"] == {"5m": 1, "1h": 1, "1d": 0}
    assert summary["days_skipped"] == 1
    assert view_counts(settings)["metrics_5m"] == 1

    retention = apply_warehouse_retention()

    assert retention["partitions_deleted"] == {"1m": 1, "5m": 1, "1h": 1, "1d": 0}  # 2024 is past 455 days
    assert view_counts(settings)["metrics"] == 0
