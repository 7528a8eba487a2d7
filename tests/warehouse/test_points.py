"""write_points: hourly partitions, upsert by point key, concurrent writers."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oaktree.points import POINT_SCHEMA
from oaktree.warehouse import files, layout
from oaktree.warehouse.layout import Resolution
from oaktree.warehouse.points import write_points
from tests.warehouse.builders import T0, minute, points


def _stored(warehouse_dir: Path) -> list[tuple]:
    rows = []
    for partition in layout.list_partitions(warehouse_dir, Resolution.MINUTE):
        newest = partition.newest()
        assert newest is not None
        table = pq.read_table(newest)
        rows.extend(
            (r["region"], r["resource_id"], r["statistic"], r["ts"], r["value"]) for r in table.to_pylist()
        )
    return sorted(rows)


def test_points_land_in_one_file_per_region_and_hour(warehouse_dir: Path) -> None:
    batch = pa.concat_tables(
        [
            points([1, 2, 3], start=minute(58)),  # 00:58..01:00 spans two hours
            points([7], start=minute(5), region="eu-west-1"),
        ]
    )

    assert write_points(warehouse_dir, batch) == 4

    partitions = sorted(layout.list_partitions(warehouse_dir, Resolution.MINUTE), key=lambda p: p.directory)
    assert [p.directory.relative_to(warehouse_dir).as_posix() for p in partitions] == [
        "metrics/resolution=1m/region=eu-west-1/date=2024-03-10/hour=00",
        "metrics/resolution=1m/region=us-east-1/date=2024-03-10/hour=00",
        "metrics/resolution=1m/region=us-east-1/date=2024-03-10/hour=01",
    ]
    assert [len(p.versions()) for p in partitions] == [1, 1, 1]
    stored = pq.read_table(partitions[2].newest())
    assert stored.schema.equals(POINT_SCHEMA, check_metadata=False)
    assert stored.column("value").to_pylist() == [3.0]


def test_overlapping_points_are_upserted_newest_value_wins(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([10, 20, 30]))
    # A settling-overlap re-read: minute 2 revised, minute 3 new.
    assert write_points(warehouse_dir, points([31, 40], start=minute(2))) == 2

    assert _stored(warehouse_dir) == [
        ("us-east-1", "i-0001", "Average", T0, 10.0),
        ("us-east-1", "i-0001", "Average", minute(1), 20.0),
        ("us-east-1", "i-0001", "Average", minute(2), 31.0),
        ("us-east-1", "i-0001", "Average", minute(3), 40.0),
    ]


def test_duplicates_inside_one_batch_keep_the_last(warehouse_dir: Path) -> None:
    batch = pa.concat_tables([points([1]), points([2]), points([5], statistic="Maximum")])

    assert write_points(warehouse_dir, batch) == 2

    assert _stored(warehouse_dir) == [
        ("us-east-1", "i-0001", "Average", T0, 2.0),
        ("us-east-1", "i-0001", "Maximum", T0, 5.0),
    ]


def test_each_write_adds_a_newer_version_and_keeps_the_old_one(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([1]))
    write_points(warehouse_dir, points([2]))

    (partition,) = layout.list_partitions(warehouse_dir, Resolution.MINUTE)
    old, new = partition.versions()
    assert layout.version_ns(new) > layout.version_ns(old)
    assert pq.read_table(old).column("value").to_pylist() == [1.0]  # never changed in place
    assert pq.read_table(new).column("value").to_pylist() == [2.0]


def test_superseded_versions_are_pruned_only_after_the_grace(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([1]))
    write_points(warehouse_dir, points([2]))
    (partition,) = layout.list_partitions(warehouse_dir, Resolution.MINUTE)
    _old, new = partition.versions()
    grace_ns = int(files.SUPERSEDED_GRACE.total_seconds() * 1e9)

    assert files.prune_superseded(partition.directory, now_ns=layout.version_ns(new) + grace_ns - 1) == 0
    assert files.prune_superseded(partition.directory, now_ns=layout.version_ns(new) + grace_ns) == 1
    assert partition.versions() == [new]


def test_rewriting_a_partition_keeps_points_of_other_series(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([1, 2], resource_id="i-a"))
    write_points(warehouse_dir, points([3], resource_id="i-b"))

    assert [row[1:] for row in _stored(warehouse_dir)] == [
        ("i-a", "Average", T0, 1.0),
        ("i-a", "Average", minute(1), 2.0),
        ("i-b", "Average", T0, 3.0),
    ]


def test_empty_batch_writes_nothing(warehouse_dir: Path) -> None:
    assert write_points(warehouse_dir, POINT_SCHEMA.empty_table()) == 0
    assert not warehouse_dir.exists()


def test_batch_without_a_column_is_refused(warehouse_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"lack column.*unit"):
        write_points(warehouse_dir, points([1]).drop_columns(["unit"]))


def test_batch_with_null_values_is_refused(warehouse_dir: Path) -> None:
    batch = points([1, 2]).set_column(7, "value", pa.array([1.0, None]))
    with pytest.raises(ValueError, match="1 null value"):
        write_points(warehouse_dir, batch)


def test_unsafe_region_is_refused_before_anything_is_written(warehouse_dir: Path) -> None:
    with pytest.raises(ValueError, match="not a valid region name"):
        write_points(warehouse_dir, pa.concat_tables([points([1]), points([2], region="../x")]))
    assert not warehouse_dir.exists()


def test_concurrent_writers_of_one_partition_lose_no_points(warehouse_dir: Path) -> None:
    writers, batches = 4, 12
    errors: list[BaseException] = []

    def write_series(resource_id: str) -> None:
        try:
            for batch in range(batches):
                write_points(
                    warehouse_dir,
                    points([batch], start=T0 + timedelta(minutes=batch), resource_id=resource_id),
                )
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write_series, args=(f"i-{n}",)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    stored = _stored(warehouse_dir)
    assert len(stored) == writers * batches
    assert {(row[1], row[3], row[4]) for row in stored} == {
        (f"i-{n}", minute(b), float(b)) for n in range(writers) for b in range(batches)
    }
