"""write_points and the upsert under it: one row per point key, newest value wins, nothing rewritten."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pytest

from oaktree.config import Settings
from oaktree.warehouse import writes
from oaktree.warehouse.points import write_points
from oaktree.warehouse.schema import METRICS
from tests.warehouse.builders import T0, minute, points
from tests.warehouse.conftest import snapshot_count


def _stored(connection: duckdb.DuckDBPyConnection) -> list[tuple]:
    return connection.execute(
        "SELECT region, resource_id, statistic, ts, value FROM metrics ORDER BY ALL"
    ).fetchall()


def test_points_of_several_regions_and_hours_land_in_one_commit(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    before = snapshot_count(lake)
    batch = pa.concat_tables(
        [
            points([1, 2, 3], start=minute(58)),  # 00:58..01:00 spans two hours
            points([7], start=minute(5), region="eu-west-1"),
        ]
    )

    assert write_points(settings, batch) == 4

    assert snapshot_count(lake) == before + 1
    assert _stored(lake) == [
        ("eu-west-1", "i-0001", "Average", minute(5), 7.0),
        ("us-east-1", "i-0001", "Average", minute(58), 1.0),
        ("us-east-1", "i-0001", "Average", minute(59), 2.0),
        ("us-east-1", "i-0001", "Average", minute(60), 3.0),
    ]


def test_overlapping_points_are_upserted_newest_value_wins(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([10, 20, 30]))
    # A settling-overlap re-read: minute 2 revised, minute 3 new.
    assert write_points(settings, points([31, 40], start=minute(2))) == 2

    assert [row[-1] for row in _stored(lake)] == [10.0, 20.0, 31.0, 40.0]


def test_rewriting_the_same_points_commits_nothing(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([10, 20, 30]))
    before = snapshot_count(lake)

    assert write_points(settings, points([10, 20, 30])) == 3

    # Unchanged points are not written again: no snapshot, hence no delete to conflict with others.
    assert snapshot_count(lake) == before
    assert len(_stored(lake)) == 3


def test_a_changed_value_replaces_the_stored_row(settings: Settings, lake: duckdb.DuckDBPyConnection) -> None:
    write_points(settings, points([10, 20, 30]))

    write_points(settings, points([25], start=minute(1)))

    assert _stored(lake)[1] == ("us-east-1", "i-0001", "Average", minute(1), 25.0)
    assert lake.execute("SELECT count(*) FROM metrics WHERE ts = ?", [minute(1)]).fetchall() == [(1,)]


def test_duplicates_inside_one_batch_keep_the_last(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    batch = pa.concat_tables([points([1]), points([2]), points([3])])

    assert write_points(settings, batch) == 1

    assert _stored(lake) == [("us-east-1", "i-0001", "Average", T0, 3.0)]


def test_series_differing_only_by_metric_or_statistic_are_all_kept(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    batch = pa.concat_tables(
        [
            points([1]),
            points([2], statistic="Maximum"),
            points([3], metric_name="NetworkIn", statistic="Sum", unit="Bytes"),
        ]
    )

    assert write_points(settings, batch) == 3
    assert lake.execute("SELECT count(*) FROM metrics").fetchall() == [(3,)]


def test_empty_batch_writes_nothing(settings: Settings, lake: duckdb.DuckDBPyConnection) -> None:
    before = snapshot_count(lake)
    assert write_points(settings, points([])) == 0
    assert snapshot_count(lake) == before


def test_batch_without_a_column_is_refused_and_nothing_is_stored(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    with pytest.raises(ValueError, match="lack column"):
        write_points(settings, points([1]).drop(["unit"]))
    assert _stored(lake) == []


def test_batch_with_null_values_is_refused_and_nothing_is_stored(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    batch = points([1, 2])
    batch = batch.set_column(batch.schema.get_field_index("value"), "value", pa.array([1.0, None]))
    with pytest.raises(ValueError, match="null value"):
        write_points(settings, batch)
    assert _stored(lake) == []


def test_a_failure_inside_the_transaction_leaves_no_partial_batch(lake: duckdb.DuckDBPyConnection) -> None:
    def upsert_then_fail(cursor: duckdb.DuckDBPyConnection) -> None:
        writes.upsert_rows(cursor, METRICS, points([1, 2, 3]))
        cursor.execute("SELECT * FROM table_that_does_not_exist")

    with pytest.raises(duckdb.CatalogException):
        writes.in_transaction(lake, upsert_then_fail)

    assert _stored(lake) == []


def test_concurrent_writers_in_threads_lose_no_points(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    # Four writers, overlapping windows of one series plus a series of their own: every commit
    # conflicts with the others and is retried.
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        barrier.wait()
        try:
            for round_ in range(5):
                batch = pa.concat_tables(
                    [
                        points([float(round_)] * 10, start=minute(round_ * 5)),
                        points([float(n)] * 3, start=minute(round_ * 3), resource_id=f"i-own-{n}"),
                    ]
                )
                write_points(settings, batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    shared = lake.execute("SELECT count(*), count(DISTINCT ts) FROM metrics WHERE resource_id = 'i-0001'")
    assert shared.fetchall() == [(30, 30)]  # minutes 0..29, once each
    own = lake.execute(
        "SELECT resource_id, count(*) FROM metrics WHERE resource_id LIKE 'i-own-%' GROUP BY 1"
    )
    assert sorted(own.fetchall()) == [(f"i-own-{n}", 15) for n in range(4)]


def test_only_commit_conflicts_are_retried() -> None:
    assert writes.is_commit_conflict(duckdb.TransactionException("Failed to commit DuckLake transaction"))
    assert writes.is_commit_conflict(duckdb.IOException("Failed to query: database is locked"))
    assert not writes.is_commit_conflict(duckdb.CatalogException("Table with name nope does not exist"))
    assert not writes.is_commit_conflict(duckdb.ConversionException("Could not convert string 'x'"))
