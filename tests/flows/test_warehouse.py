"""The warehouse flows (rollups, retention, compaction) run their tasks and return the reports."""

from __future__ import annotations

from oaktree.config import Settings
from oaktree.warehouse import connect, read
from oaktree.warehouse.points import write_points
from tests.warehouse.builders import points


def test_rollup_then_retention_then_compaction_flows(prefect: None, settings: Settings) -> None:
    from flows.warehouse import apply_warehouse_retention, compact_warehouse, rollup_metrics

    write_points(settings, points([1, 2, 3]))

    summary = rollup_metrics()

    assert summary["changed_series_hours"] == 1
    # The points are from 2024, older than the 1-minute retention: their day bucket is not recomputed.
    assert summary["buckets"] == {"5m": 1, "1h": 1, "1d": 0}
    assert summary["days_skipped"] == 1
    with connect(settings=settings) as connection:
        assert read.table_counts(connection)["metrics_5m"] == 1

    retention = apply_warehouse_retention()

    # 2024 is past every retention but the daily buckets' five years.
    assert retention["rows_deleted"] == {
        "metrics": 3,
        "metrics_5m": 1,
        "metrics_1h": 1,
        "metrics_1d": 0,
        "events": 0,
        "anomalies": 0,
        "forecasts": 0,
    }
    with connect(settings=settings) as connection:
        assert read.table_counts(connection)["metrics"] == 0

    compaction = compact_warehouse()

    assert compaction["merged"] is False  # the test lake has a SQLite catalog: files are not merged
    assert compaction["snapshots_expired"] == compaction["files_deleted"] == 0  # nothing is old enough
