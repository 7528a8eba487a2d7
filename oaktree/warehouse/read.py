"""The warehouse's read side: typed functions that take a connection and return DataFrames.

The CLI, the flows' artifacts, the dashboard, the alert engine and analytics read the warehouse
only through these functions, so each query is written once. Each call takes its own cursor of
the connection, so one cached connection serves many threads (DuckDB forbids sharing a cursor).
Timestamps come back as UTC-aware pandas timestamps. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from oaktree.warehouse.buckets import bucket_start_sql
from oaktree.warehouse.lake import cursor
from oaktree.warehouse.schema import EVENTS, MEANINGFUL_COLUMN, METRICS, RESOURCES, TABLES, Resolution

# The finest resolution whose points over a time range still make a readable chart (at most
# about 2,300 points per series: a week at 5 minutes is 2,016); beyond the last limit, days.
_RESOLUTION_LIMITS = (
    (timedelta(days=1), Resolution.MINUTE),
    (timedelta(days=8), Resolution.FIVE_MINUTES),
    (timedelta(days=90), Resolution.HOUR),
)

# How a statistic's 1-minute values combine into a longer period, as CloudWatch combines them.
PERIOD_AGGREGATE = {"Average": "avg", "Maximum": "max", "Minimum": "min", "Sum": "sum", "SampleCount": "sum"}


# Up to this many resources, a read names them in the scan's filter (see `series_for_keys`).
PUSHED_RESOURCES = 200


def pick_resolution(start: datetime, end: datetime) -> Resolution:
    """Return the resolution that charts `start`..`end` with a readable number of points."""
    span = end - start
    for limit, resolution in _RESOLUTION_LIMITS:
        if span <= limit:
            return resolution
    return Resolution.DAY


def _query(connection: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pd.DataFrame:
    with cursor(connection) as own:
        return own.execute(sql, params or {}).df()


def in_list(column: str, name: str, values: Sequence[Any] | None, params: dict[str, Any]) -> str:
    """Return a filter `column IN $name` (or TRUE without values), adding the values to `params`."""
    if not values:
        return "TRUE"
    params[name] = list(values)
    return f"{column} = ANY(${name})"


def _pushed_in(column: str, name: str, values: Sequence[Any], params: dict[str, Any]) -> str:
    """Return `column IN ($name0, $name1, ...)`: a constant list DuckDB pushes into the scan."""
    names = [f"{name}{index}" for index in range(len(values))]
    params.update(zip(names, values, strict=True))
    return f"{column} IN ({', '.join(f'${n}' for n in names)})"


def _series_filter(keys: pd.DataFrame, params: dict[str, Any]) -> str:
    """Return the clause (a join, then `WHERE ...`) keeping the rows of `t` whose series is in `keys`.

    Few resources: constant lists DuckDB pushes into the scan, so it skips the row groups of
    other resources (tables are written in key order), then an exact match of the series among
    them. Many (the alert pass): a semi join against the keys passed as list parameters. Either
    way no DataFrame is registered: registering one costs ~10-20 ms per query on a lake.
    """
    wanted = keys[["resource_id", "metric_name", "statistic"]].drop_duplicates().astype(str)
    if wanted.empty:
        return "WHERE FALSE"
    if wanted["resource_id"].nunique() <= PUSHED_RESOURCES:
        params["series"] = (
            wanted["resource_id"] + "\x00" + wanted["metric_name"] + "\x00" + wanted["statistic"]
        ).tolist()
        exact = "list_contains($series, t.resource_id || chr(0) || t.metric_name || chr(0) || t.statistic)"
        pushed = [
            _pushed_in(f"t.{column}", column, sorted(wanted[column].unique()), params)
            for column in ("resource_id", "metric_name", "statistic")
        ]
        return f"WHERE {' AND '.join(pushed)} AND {exact}"
    params.update({f"wanted_{column}": wanted[column].tolist() for column in wanted.columns})
    return (
        "SEMI JOIN (SELECT unnest($wanted_resource_id) AS resource_id, unnest($wanted_metric_name) AS "
        "metric_name, unnest($wanted_statistic) AS statistic) w ON t.resource_id = w.resource_id "
        "AND t.metric_name = w.metric_name AND t.statistic = w.statistic WHERE TRUE"
    )


def inventory(
    connection: duckdb.DuckDBPyConnection,
    *,
    resource_types: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    tag: tuple[str, str | None] | None = None,
    search: str | None = None,
    resource_ids: Sequence[str] | None = None,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the current inventory, filtered; `tag` is (key, value) or (key, None) for "has key".

    `search` matches id, name and tag values, case-insensitively. Every column of `resources`,
    `account_id` included.
    """
    params: dict[str, Any] = {}
    filters = [
        in_list("account_id", "accounts", account_ids, params),
        in_list("resource_type", "types", resource_types, params),
        in_list("region", "regions", regions, params),
        in_list("state", "states", states, params),
        in_list("resource_id", "ids", resource_ids, params),
    ]
    if tag is not None:
        params["tag_key"] = tag[0]
        if tag[1] is None:
            filters.append("list_contains(map_keys(tags), $tag_key)")
        else:
            params["tag_value"] = tag[1]
            filters.append("tags[$tag_key] = $tag_value")
    if search:
        params["search"] = f"%{search.lower()}%"
        filters.append(
            "(lower(resource_id) LIKE $search OR lower(name) LIKE $search "
            "OR list_has_any(list_transform(map_values(tags), v -> lower(v) LIKE $search), [true]))"
        )
    return _query(
        connection,
        f"SELECT * FROM {RESOURCES.name} WHERE {' AND '.join(filters)} ORDER BY resource_type, region, name",
        params,
    )


def series(
    connection: duckdb.DuckDBPyConnection,
    *,
    resource_ids: Sequence[str],
    metric_name: str,
    statistic: str,
    start: datetime,
    end: datetime,
    resolution: Resolution | None = None,
) -> pd.DataFrame:
    """Return one metric of one or many resources over `start`..`end` (end exclusive).

    Columns: resource_id, ts, value, resolution. The resolution defaults to the one the range
    calls for; a bucket's value is the column that means the statistic (sum for Sum, max for
    Maximum, ...), so a chart reads the same at every zoom.
    """
    keys = pd.DataFrame(
        {"resource_id": list(resource_ids), "metric_name": metric_name, "statistic": statistic}
    )
    frame = series_for_keys(connection, keys=keys, start=start, end=end, resolution=resolution)
    return frame.drop(columns=["metric_name", "statistic"])


def series_for_keys(
    connection: duckdb.DuckDBPyConnection,
    *,
    keys: pd.DataFrame,
    start: datetime,
    end: datetime,
    resolution: Resolution | None = None,
    period_seconds: int | None = None,
) -> pd.DataFrame:
    """Return many series in one query: every (resource_id, metric_name, statistic) row of `keys`.

    Columns: resource_id, metric_name, statistic, ts, value, resolution. With `period_seconds`
    the points are aggregated into periods of that length (aligned to the epoch) the way
    CloudWatch aggregates the statistic (`PERIOD_AGGREGATE`): the alert engine's periods.
    """
    resolution = resolution or pick_resolution(start, end)
    table = resolution.table
    time_column = resolution.time_column
    value = "value" if resolution is Resolution.MINUTE else bucket_value_sql()
    params: dict[str, Any] = {"start": start, "end": end}
    with cursor(connection) as own:
        points = (
            f"SELECT t.resource_id, t.metric_name, t.statistic, t.{time_column} AS ts, {value} AS value "
            f"FROM {table.name} t {_series_filter(keys, params)} "
            f"AND t.{time_column} >= $start AND t.{time_column} < $end"
        )
        if period_seconds:
            aggregate = " ".join(f"WHEN '{name}' THEN {fn}(value)" for name, fn in PERIOD_AGGREGATE.items())
            points = (
                "SELECT resource_id, metric_name, statistic, "
                f"{bucket_start_sql('ts', int(period_seconds))} AS period, "
                f"CASE any_value(statistic) {aggregate} END AS value "
                f"FROM ({points}) GROUP BY resource_id, metric_name, statistic, period"
            )
            points = f"SELECT resource_id, metric_name, statistic, period AS ts, value FROM ({points})"
        frame = own.execute(
            f"SELECT * FROM ({points}) ORDER BY resource_id, metric_name, statistic, ts", params
        ).df()
    frame["resolution"] = resolution.value
    return frame


def period_percentiles(
    connection: duckdb.DuckDBPyConnection,
    *,
    keys: pd.DataFrame,
    start: datetime,
    end: datetime,
    period_seconds: int,
    percentiles: Sequence[int] = (90, 95, 99),
) -> pd.DataFrame:
    """Return percentiles of the 1-minute values inside each period, for many series in one query.

    Columns: resource_id, metric_name, statistic (of the 1-minute series, e.g. Average), ts (the
    period's start, bucketed like `series_for_keys`), count, and one column per percentile
    (`p90`, `p95`, `p99`: continuous, interpolated). The warehouse keeps no raw samples, so
    these are percentiles of the minute values, not CloudWatch's percentiles of samples.
    """
    fractions = ", ".join(str(p / 100) for p in percentiles)
    columns = ", ".join(f"q[{i + 1}] AS p{p}" for i, p in enumerate(percentiles))
    params: dict[str, Any] = {"start": start, "end": end}
    with cursor(connection) as own:
        return own.execute(
            f"""
            SELECT resource_id, metric_name, statistic, ts, count, {columns} FROM (
                SELECT t.resource_id, t.metric_name, t.statistic,
                       {bucket_start_sql("t.ts", int(period_seconds))} AS ts,
                       count(*) AS count, quantile_cont(t.value, [{fractions}]) AS q
                FROM {METRICS.name} t {_series_filter(keys, params)}
                    AND t.ts >= $start AND t.ts < $end
                GROUP BY ALL
            ) ORDER BY resource_id, metric_name, statistic, ts
            """,
            params,
        ).df()


def bucket_value_sql(alias: str = "t") -> str:
    """Return the SQL of a rollup bucket's value: the column that means its statistic (sum for Sum...)."""
    cases = " ".join(f"WHEN '{name}' THEN {alias}.{column}" for name, column in MEANINGFUL_COLUMN.items())
    return f"CASE {alias}.statistic {cases} ELSE {alias}.avg END"


def latest_values(
    connection: duckdb.DuckDBPyConnection,
    *,
    metric_name: str,
    statistic: str,
    resource_types: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    since: datetime | None = None,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the newest 1-minute value of one metric per resource.

    Columns resource_id, resource_type, region, ts, value, account_id. `since` bounds how far back
    a resource's newest point may be (and how much is read).
    """
    params: dict[str, Any] = {"metric": metric_name, "statistic": statistic}
    filters = [
        "metric_name = $metric",
        "statistic = $statistic",
        in_list("resource_type", "types", resource_types, params),
        in_list("region", "regions", regions, params),
        in_list("account_id", "accounts", account_ids, params),
    ]
    if since is not None:
        params["since"] = since
        filters.append("ts >= $since")
    return _query(
        connection,
        "SELECT resource_id, any_value(resource_type) AS resource_type, any_value(region) AS region, "
        "max(ts) AS ts, arg_max(value, ts) AS value, any_value(account_id) AS account_id "
        f"FROM {METRICS.name} WHERE {' AND '.join(filters)} GROUP BY resource_id ORDER BY resource_id",
        params,
    )


def top_resources(
    connection: duckdb.DuckDBPyConnection,
    *,
    metric_name: str,
    statistic: str,
    start: datetime,
    end: datetime,
    limit: int = 10,
    resource_types: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    lowest: bool = False,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the fleet's top (or bottom) resources by a metric's mean over `start`..`end`.

    Columns: resource_id, name, resource_type, region, value (mean), peak, rank, account_id.
    Reads the resolution the range calls for.
    """
    resolution = pick_resolution(start, end)
    table, time_column = resolution.table, resolution.time_column
    value = "value" if resolution is Resolution.MINUTE else bucket_value_sql()
    params: dict[str, Any] = {
        "metric": metric_name,
        "statistic": statistic,
        "start": start,
        "end": end,
        "limit": int(limit),
    }
    filters = [
        "t.metric_name = $metric",
        "t.statistic = $statistic",
        f"t.{time_column} >= $start AND t.{time_column} < $end",
        in_list("t.resource_type", "types", resource_types, params),
        in_list("t.region", "regions", regions, params),
        in_list("t.account_id", "accounts", account_ids, params),
    ]
    order = "ASC" if lowest else "DESC"
    return _query(
        connection,
        f"""
        SELECT s.resource_id, coalesce(r.name, s.resource_id) AS name, s.resource_type, s.region,
               s.value, s.peak, row_number() OVER (ORDER BY s.value {order}) AS rank, s.account_id
        FROM (
            SELECT t.resource_id, any_value(t.resource_type) AS resource_type, any_value(t.region) AS region,
                   avg({value}) AS value, max({value}) AS peak, any_value(t.account_id) AS account_id
            FROM {table.name} t WHERE {" AND ".join(filters)} GROUP BY t.resource_id
        ) s LEFT JOIN {RESOURCES.name} r USING (resource_id)
        ORDER BY s.value {order} LIMIT $limit
        """,
        params,
    )


def events(
    connection: duckdb.DuckDBPyConnection,
    *,
    resource_ids: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    event_types: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    limit: int = 1000,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return events, newest first, for some resources and/or a time range (every column, account_id too)."""
    params: dict[str, Any] = {"limit": int(limit)}
    filters = [
        in_list("account_id", "accounts", account_ids, params),
        in_list("resource_id", "ids", resource_ids, params),
        in_list("event_type", "types", event_types, params),
        in_list("region", "regions", regions, params),
    ]
    if start is not None:
        params["start"] = start
        filters.append("ts >= $start")
    if end is not None:
        params["end"] = end
        filters.append("ts < $end")
    return _query(
        connection,
        f"SELECT * FROM {EVENTS.name} WHERE {' AND '.join(filters)} ORDER BY ts DESC, event_key LIMIT $limit",
        params,
    )


def freshness(
    connection: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    since: datetime,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return, per region, the newest 1-minute point after `since` and the lag behind `now` in seconds.

    Columns region, newest, lag_seconds, series; with `account_ids`, only those accounts' points.
    """
    params: dict[str, Any] = {"now": now, "since": since}
    accounts = in_list("account_id", "accounts", account_ids, params)
    return _query(
        connection,
        f"SELECT region, max(ts) AS newest, epoch($now - max(ts)) AS lag_seconds, "
        f"count(DISTINCT (resource_id, metric_name, statistic)) AS series "
        f"FROM {METRICS.name} WHERE ts >= $since AND {accounts} GROUP BY region ORDER BY region",
        params,
    )


def table_counts(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Return the row count of every warehouse table."""
    with cursor(connection) as own:
        return {
            table.name: int(own.execute(f"SELECT count(*) FROM {table.name}").fetchall()[0][0])
            for table in TABLES
        }


def newest_point(connection: duckdb.DuckDBPyConnection) -> datetime | None:
    """Return the time of the newest 1-minute point (UTC), or None on an empty warehouse."""
    with cursor(connection) as own:
        return own.execute(f"SELECT max(ts) FROM {METRICS.name}").fetchall()[0][0]


def account_ids(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Return the AWS accounts the inventory holds, sorted (rows saved before accounts were kept: none)."""
    with cursor(connection) as own:
        rows = own.execute(
            f"SELECT DISTINCT account_id FROM {RESOURCES.name} WHERE account_id IS NOT NULL ORDER BY 1"
        ).fetchall()
    return [str(row[0]) for row in rows]
