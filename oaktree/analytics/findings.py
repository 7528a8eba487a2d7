"""Reading the stored findings back: anomalies, recommendations and forecasts, and chart overlays.

The daily analysis writes the `anomalies`, `recommendations` and `forecasts` tables (`store`);
the dashboard and notebooks read them here, filtered like every other read (regions, AWS
accounts, time range). The account of a finding is the inventory's: the finding tables keep no
account column, so the account filter joins `resources`.

`series_bands` and `latest_series_forecasts` give the resource detail chart its overlays at the
chart's own resolution: a band or forecast of a Sum statistic is rescaled to the chart's bucket
width (a 5-minute band of a per-minute chart is five times too wide otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from oaktree.analytics import anomalies
from oaktree.warehouse.lake import cursor
from oaktree.warehouse.read import in_list
from oaktree.warehouse.schema import ANOMALIES, FORECASTS, RECOMMENDATIONS, RESOURCES, Resolution

# Statistics whose bucket value grows with the bucket's width (see read.PERIOD_AGGREGATE).
ADDITIVE_STATISTICS = frozenset({"Sum", "SampleCount"})
FORECAST_STEP = timedelta(hours=1)


def _query(connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    with cursor(connection) as own:
        return own.execute(sql, params).df()


def _scope_filters(
    alias: str,
    params: dict[str, Any],
    *,
    regions: Sequence[str] | None,
    account_ids: Sequence[str] | None,
    resource_ids: Sequence[str] | None = None,
) -> list[str]:
    return [
        in_list(f"{alias}.region", "regions", regions, params),
        in_list("r.account_id", "accounts", account_ids, params),
        in_list(f"{alias}.resource_id", "ids", resource_ids, params),
    ]


def stored_anomalies(
    connection: duckdb.DuckDBPyConnection,
    *,
    start: datetime,
    end: datetime,
    regions: Sequence[str] | None = None,
    account_ids: Sequence[str] | None = None,
    resource_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the stored anomalous points of `start`..`end` (end exclusive), oldest first per series.

    Columns: the `anomalies` table's (resource_id, resource_type, region, metric_name, statistic,
    ts, value, expected, lower, upper, score) plus name and account_id from the inventory; the
    columns `anomalies.anomaly_episodes` groups.
    """
    params: dict[str, Any] = {"start": start, "end": end}
    filters = [
        "a.ts >= $start AND a.ts < $end",
        *_scope_filters("a", params, regions=regions, account_ids=account_ids, resource_ids=resource_ids),
    ]
    return _query(
        connection,
        f"""
        SELECT a.*, coalesce(r.name, a.resource_id) AS name, r.account_id
        FROM {ANOMALIES.name} a LEFT JOIN {RESOURCES.name} r USING (resource_id)
        WHERE {" AND ".join(filters)}
        ORDER BY a.resource_id, a.metric_name, a.statistic, a.ts
        """,
        params,
    )


def stored_episodes(anomalous: pd.DataFrame) -> pd.DataFrame:
    """Return stored anomalous points (`stored_anomalies`) grouped into episodes, strongest first.

    Columns: those of `anomalies.anomaly_episodes` plus name.
    """
    episodes = anomalies.anomaly_episodes(anomalous)
    names = (
        anomalous.drop_duplicates("resource_id").set_index("resource_id")["name"] if len(anomalous) else {}
    )
    episodes.insert(1, "name", episodes["resource_id"].map(names))
    strength = episodes["peak_score"].astype(float).abs()
    return episodes.loc[strength.sort_values(ascending=False, kind="stable").index].reset_index(drop=True)


def stored_recommendations(
    connection: duckdb.DuckDBPyConnection,
    *,
    regions: Sequence[str] | None = None,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the latest run's recommendations, largest monthly saving first.

    Columns: the `recommendations` table's plus account_id from the inventory.
    """
    params: dict[str, Any] = {}
    filters = _scope_filters("c", params, regions=regions, account_ids=account_ids)
    return _query(
        connection,
        f"""
        SELECT c.*, r.account_id
        FROM {RECOMMENDATIONS.name} c LEFT JOIN {RESOURCES.name} r USING (resource_id)
        WHERE {" AND ".join(filters)}
        ORDER BY c.monthly_saving DESC, c.name, c.kind
        """,
        params,
    )


def evidence_text(evidence: str | dict[str, Any] | None) -> str:
    """Return a recommendation's evidence (JSON) as one readable line: `cpu p95: 2.1 · days: 14 · ...`."""
    if evidence is None or (isinstance(evidence, float) and pd.isna(evidence)):
        return ""
    facts = json.loads(evidence) if isinstance(evidence, str) else evidence
    if not isinstance(facts, dict):
        return str(facts)

    def shown(value: Any) -> str:
        return f"{value:,.4g}" if isinstance(value, float) else str(value)

    return " · ".join(f"{key.replace('_', ' ')}: {shown(value)}" for key, value in facts.items())


def latest_forecasts(
    connection: duckdb.DuckDBPyConnection,
    *,
    regions: Sequence[str] | None = None,
    account_ids: Sequence[str] | None = None,
    resource_ids: Sequence[str] | None = None,
    made_until: datetime | None = None,
) -> pd.DataFrame:
    """Return the hours of the latest forecast of every series (the newest made_at, up to `made_until`).

    Columns: the `forecasts` table's plus name and account_id from the inventory; ordered by
    series, then hour.
    """
    params: dict[str, Any] = {}
    filters = _scope_filters("f", params, regions=regions, account_ids=account_ids, resource_ids=resource_ids)
    if made_until is not None:
        params["made_until"] = made_until
        filters.append("f.made_at <= $made_until")
    return _query(
        connection,
        f"""
        SELECT f.*, coalesce(r.name, f.resource_id) AS name, r.account_id
        FROM {FORECASTS.name} f LEFT JOIN {RESOURCES.name} r USING (resource_id)
        WHERE {" AND ".join(filters)}
        QUALIFY f.made_at = max(f.made_at) OVER (PARTITION BY f.resource_id, f.metric_name, f.statistic)
        ORDER BY f.resource_id, f.metric_name, f.statistic, f.ts
        """,
        params,
    )


def forecast_outlook(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Return one row per forecast series (`latest_forecasts` rows): its busiest forecast hour and threshold.

    Columns: resource_id, name, resource_type, region, metric_name, statistic, made_at,
    peak_at, peak_forecast, peak_upper, threshold, days_until_threshold, model. Series nearest
    their threshold first, then the rest by name.
    """
    columns = [
        "resource_id",
        "name",
        "resource_type",
        "region",
        "metric_name",
        "statistic",
        "made_at",
        "peak_at",
        "peak_forecast",
        "peak_upper",
        "threshold",
        "days_until_threshold",
        "model",
    ]
    if forecasts.empty:
        return pd.DataFrame(columns=columns)
    keys = ["resource_id", "metric_name", "statistic"]
    peaks = forecasts.loc[forecasts.groupby(keys)["forecast"].idxmax()]
    outlook = peaks.rename(columns={"ts": "peak_at", "forecast": "peak_forecast", "upper": "peak_upper"})
    return outlook.sort_values(["days_until_threshold", "name", "metric_name"], na_position="last")[
        columns
    ].reset_index(drop=True)


def _width_ratio(statistic: str, source: timedelta, target: timedelta) -> float:
    """Return what a value of a `source`-wide bucket is multiplied by to read as a `target`-wide one."""
    return target / source if statistic in ADDITIVE_STATISTICS else 1.0


def series_bands(
    connection: duckdb.DuckDBPyConnection,
    *,
    resource_id: str,
    start: datetime,
    end: datetime,
    resolution: Resolution,
) -> pd.DataFrame:
    """Return the anomaly band of every judged series of one resource over `start`..`end`, at `resolution`.

    Columns: metric_name, statistic, ts, lower, upper. The band is `score_points`' (5-minute
    buckets, baseline from the lookback before `end`); for a coarser chart it is averaged per
    bucket, and a Sum's band is rescaled to the chart's bucket width. Series without a baseline
    (no history) have no rows. The detection settings are the daily analysis's defaults, so the
    band drawn is the one its anomalies were judged against.
    """
    columns = ["metric_name", "statistic", "ts", "lower", "upper"]
    scored = anomalies.score_points(connection, start=start, end=end, resource_ids=[resource_id])
    if scored.empty:
        return pd.DataFrame(columns=columns)
    band = scored[columns].copy()
    source = anomalies.RESOLUTION.width
    if resolution.width > source:
        band["ts"] = band["ts"].dt.floor(resolution.width)
        band = band.groupby(["metric_name", "statistic", "ts"], as_index=False)[["lower", "upper"]].mean()
    ratios = band["statistic"].map(lambda statistic: _width_ratio(statistic, source, resolution.width))
    band["lower"] = band["lower"] * ratios
    band["upper"] = band["upper"] * ratios
    return band[columns]


def latest_series_forecasts(
    connection: duckdb.DuckDBPyConnection,
    *,
    resource_id: str,
    start: datetime,
    end: datetime,
    resolution: Resolution,
) -> pd.DataFrame:
    """Return the latest forecast (made by `end`) of every series of one resource, from `start` on.

    Columns: metric_name, statistic, made_at, ts, forecast, lower, upper. Hourly, as stored; a
    Sum's values are rescaled to the chart's bucket width. A forecast whose hours all precede
    `start` (the analysis has not run for a while) has no rows.
    """
    columns = ["metric_name", "statistic", "made_at", "ts", "forecast", "lower", "upper"]
    rows = latest_forecasts(connection, resource_ids=[resource_id], made_until=end)
    rows = rows[rows["ts"] >= pd.Timestamp(start)]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows = rows[columns].copy()
    ratios = rows["statistic"].map(lambda statistic: _width_ratio(statistic, FORECAST_STEP, resolution.width))
    for column in ("forecast", "lower", "upper"):
        rows[column] = rows[column] * ratios
    return rows.reset_index(drop=True)


def latest_analysis(connection: duckdb.DuckDBPyConnection) -> datetime | None:
    """Return the end of the history the newest stored analysis read (UTC), or None before the first one.

    The newest of the forecasts' made_at, the recommendations' analysed_until and the anomalies'
    last point: a run that found no anomaly and no recommendation still stores forecasts.
    """
    with cursor(connection) as own:
        found = own.execute(
            f"""
            SELECT max(moment) FROM (
                SELECT max(made_at) AS moment FROM {FORECASTS.name}
                UNION ALL SELECT max(analysed_until) FROM {RECOMMENDATIONS.name}
                UNION ALL SELECT max(ts) FROM {ANOMALIES.name}
            )
            """
        ).fetchall()[0][0]
    return found
