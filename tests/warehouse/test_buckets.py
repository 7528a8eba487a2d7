"""Bucket starts by integer arithmetic equal DuckDB's time_bucket, for every width OakTree uses."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import duckdb
import pytest

from oaktree.alerts.evaluation import period_start
from oaktree.warehouse.buckets import bucket_start_sql, day_number_sql, day_of_week_sql, hour_of_day_sql

WIDTHS = [60, 300, 3600, 86400, 7 * 86400, 600, 900, 10 * 60 * 60, 3 * 86400]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
@pytest.mark.parametrize("width", WIDTHS)
def test_integer_buckets_equal_time_bucket_in_any_session_zone(width: int, zone: str) -> None:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    # Moments across years, month ends and leap days, to the microsecond.
    connection.execute(
        "CREATE TABLE moments AS SELECT TIMESTAMPTZ '2000-01-03 00:00:00' "
        "+ to_microseconds((i * 7_919_000_003_411) % 900_000_000_000_000) AS ts FROM range(2000) t(i)"
    )
    expected = connection.execute(
        f"SELECT ts, time_bucket(INTERVAL '{width} seconds', ts) FROM moments ORDER BY ts"
    ).fetchall()
    connection.execute(f"SET TimeZone = '{zone}'")  # the result must not depend on the session's zone

    ours = connection.execute(
        f"SELECT ts, {bucket_start_sql('ts', width)} FROM moments ORDER BY ts"
    ).fetchall()

    assert ours == expected
    # The alert engine's periods are the same buckets.
    assert [period_start(ts, timedelta(seconds=width)) for ts, _ in ours[:50]] == [b for _, b in ours[:50]]


@pytest.mark.parametrize("width", [0, -60, 1.5])
def test_a_bucket_is_a_positive_whole_number_of_seconds(width: float) -> None:
    with pytest.raises(ValueError, match="positive whole number of seconds"):
        bucket_start_sql("ts", width)  # type: ignore[arg-type]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
def test_hour_weekday_and_day_number_equal_python_in_utc(zone: str) -> None:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        "CREATE TABLE moments AS SELECT TIMESTAMPTZ '2000-01-03 00:00:00' "
        "+ to_microseconds((i * 7_919_000_003_411) % 900_000_000_000_000) AS ts FROM range(500) t(i)"
    )
    connection.execute(f"SET TimeZone = '{zone}'")  # the answer is UTC's whatever the session's zone

    rows = connection.execute(
        f"SELECT ts, {hour_of_day_sql('ts')}, {day_of_week_sql('ts')}, {day_number_sql('ts')} FROM moments"
    ).fetchall()

    for moment, hour, weekday, day in rows:
        in_utc = moment.astimezone(UTC)
        assert (hour, weekday) == (in_utc.hour, in_utc.weekday())
        assert day == (in_utc.date() - date(1970, 1, 1)).days
