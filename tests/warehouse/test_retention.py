"""Retention: whole partitions older than their resolution's retention are deleted, nothing younger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from oaktree.config import Settings, load_settings
from oaktree.warehouse import layout
from oaktree.warehouse.layout import Resolution
from oaktree.warehouse.points import write_points
from oaktree.warehouse.retention import apply_configured_retention, apply_retention, retention_days
from oaktree.warehouse.rollups import rollup
from tests.warehouse.builders import points

DAYS = {Resolution.MINUTE: 2, Resolution.FIVE_MINUTES: 5, Resolution.HOUR: 40, Resolution.DAY: 400}


def _starts(warehouse_dir: Path, resolution: Resolution) -> list[datetime]:
    return sorted(p.start for p in layout.list_partitions(warehouse_dir, resolution))


def test_only_expired_partitions_are_deleted(warehouse_dir: Path) -> None:
    for day in (1, 9, 10):
        write_points(warehouse_dir, points([1, 2], start=datetime(2024, 3, day, 23, 0, tzinfo=UTC)))
    rollup(warehouse_dir)
    now = datetime(2024, 3, 12, 0, 0, tzinfo=UTC)  # 1m cut-off: 03-10 00:00; 5m cut-off: 03-07 00:00

    report = apply_retention(warehouse_dir, now=now, days=DAYS)

    assert _starts(warehouse_dir, Resolution.MINUTE) == [datetime(2024, 3, 10, 23, tzinfo=UTC)]
    assert _starts(warehouse_dir, Resolution.FIVE_MINUTES) == [
        datetime(2024, 3, 9, tzinfo=UTC),
        datetime(2024, 3, 10, tzinfo=UTC),
    ]
    assert _starts(warehouse_dir, Resolution.HOUR) == [datetime(2024, 3, 1, tzinfo=UTC)]
    assert _starts(warehouse_dir, Resolution.DAY) == [datetime(2024, 1, 1, tzinfo=UTC)]
    assert report.partitions_deleted == {"1m": 2, "5m": 1, "1h": 0, "1d": 0}
    assert report.partitions_kept == {"1m": 1, "5m": 2, "1h": 1, "1d": 1}
    # Emptied folders go too, so the tree does not fill with empty dates.
    assert not (
        layout.resolution_dir(warehouse_dir, Resolution.MINUTE) / "region=us-east-1/date=2024-03-01"
    ).exists()


def test_a_partition_straddling_the_cutoff_is_kept(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([1], start=datetime(2024, 3, 10, 5, 30, tzinfo=UTC)))

    apply_retention(warehouse_dir, now=datetime(2024, 3, 12, 5, 59, tzinfo=UTC), days=DAYS)
    assert len(_starts(warehouse_dir, Resolution.MINUTE)) == 1

    apply_retention(warehouse_dir, now=datetime(2024, 3, 12, 6, 0, tzinfo=UTC), days=DAYS)
    assert _starts(warehouse_dir, Resolution.MINUTE) == []


def test_retention_on_an_empty_warehouse_deletes_nothing(warehouse_dir: Path) -> None:
    report = apply_retention(warehouse_dir, now=datetime(2024, 1, 1, tzinfo=UTC), days=DAYS)
    assert report.partitions_deleted == {"1m": 0, "5m": 0, "1h": 0, "1d": 0}
    assert (
        report.to_dict()["cutoffs"]["1m"]
        == (datetime(2024, 1, 1, tzinfo=UTC) - timedelta(days=2)).isoformat()
    )


def test_retention_days_default_to_cloudwatch_and_are_configurable(settings: Settings) -> None:
    assert retention_days(settings) == {
        Resolution.MINUTE: 15,
        Resolution.FIVE_MINUTES: 63,
        Resolution.HOUR: 455,
        Resolution.DAY: 1825,
    }
    assert retention_days(load_settings(warehouse_retention_5m_days=90))[Resolution.FIVE_MINUTES] == 90


def test_event_days_older_than_their_retention_are_deleted(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OAKTREE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OAKTREE_WAREHOUSE_RETENTION_EVENTS_DAYS", "30")
    settings = load_settings()
    events = layout.events_dir(settings.warehouse_dir)
    for day in ("2024-01-30", "2024-01-31", "2024-02-01"):
        (events / f"date={day}").mkdir(parents=True)
        (events / f"date={day}" / "run.parquet").write_bytes(b"PAR1")
    (events / layout.EMPTY_FILE).write_bytes(b"PAR1")

    # Cut-off 2024-02-01 00:00: 01-30 and 01-31 have wholly aged out, 02-01 has not.
    report = apply_configured_retention(settings, now=datetime(2024, 3, 2, tzinfo=UTC))

    assert report.event_days_deleted == 2
    assert sorted(p.name for p in events.iterdir()) == [layout.EMPTY_FILE, "date=2024-02-01"]
