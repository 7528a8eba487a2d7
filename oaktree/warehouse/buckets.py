"""Time buckets in SQL by integer arithmetic on epoch microseconds, aligned like `time_bucket`.

DuckDB's `time_bucket` and `date_trunc` on TIMESTAMPTZ go through ICU's calendar for every row.
Measured on 5 million points: a 5-minute bucket 3-4x slower than integer division, a day bucket
about 150x slower (40 s against 0.25 s). OakTree's buckets are whole seconds in UTC, which integer
arithmetic gives exactly; the result does not depend on the session's TimeZone either.
"""

from __future__ import annotations

from datetime import UTC, datetime

# time_bucket's default origin for widths without months (a Monday midnight, UTC). Every width
# that divides a day is also midnight-aligned from it; alert periods use the same origin.
BUCKET_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
_ORIGIN_SECONDS = int(BUCKET_ORIGIN.timestamp())


def bucket_start_sql(column: str, width_seconds: int) -> str:
    """Return SQL for the start (TIMESTAMPTZ) of the `width_seconds` bucket holding `column`.

    Equal to `time_bucket(INTERVAL 'width_seconds seconds', column)` for moments after the
    origin (2000-01-03), which every OakTree timestamp is.
    """
    if width_seconds <= 0 or int(width_seconds) != width_seconds:
        raise ValueError(f"a bucket is a positive whole number of seconds, not {width_seconds!r}")
    width_us = int(width_seconds) * 1_000_000
    origin_us = _ORIGIN_SECONDS * 1_000_000
    return (
        f"to_timestamp(((epoch_us({column}) - {origin_us}) // {width_us}) * {int(width_seconds)} "
        f"+ {_ORIGIN_SECONDS})"
    )


_MICROSECONDS_PER_HOUR = 3_600 * 1_000_000
_MICROSECONDS_PER_DAY = 24 * _MICROSECONDS_PER_HOUR
# 1970-01-01, day 0 of the epoch, was a Thursday: day 3 when Monday is 0.
_EPOCH_WEEKDAY = 3


def day_number_sql(column: str) -> str:
    """Return SQL for the UTC day holding `column`, as whole days since 1970-01-01."""
    return f"(epoch_us({column}) // {_MICROSECONDS_PER_DAY})"


def hour_of_day_sql(column: str) -> str:
    """Return SQL for the UTC hour of day (0-23) of `column`."""
    return f"CAST((epoch_us({column}) // {_MICROSECONDS_PER_HOUR}) % 24 AS INTEGER)"


def day_of_week_sql(column: str) -> str:
    """Return SQL for the UTC day of week of `column`, Monday 0 to Sunday 6 (Python's `weekday()`)."""
    return f"CAST(({day_number_sql(column)} + {_EPOCH_WEEKDAY}) % 7 AS INTEGER)"
