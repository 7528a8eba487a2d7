"""Anomaly detection: a robust seasonal baseline per series, a score per point, a band, episodes.

The baseline of a series is built in DuckDB from its 5-minute buckets over a lookback window:

1. A daily profile: for each hour of the day, the median of the values within one hour either
   side of it (across every day of the window). The neighbouring hours keep a recurring
   incident of less than an hour (the sandbox's repeats at the same time every day) from
   becoming "normal": it is a minority of a three-hour window, and the median ignores it,
   while a smooth daily cycle barely moves over three hours.
2. A weekday effect: the median of what is left for each day of the week, used only when the
   window holds at least `min_weekday_samples` of that weekday (fewer would let one unusual
   day define its weekday).
3. A spread: 1.4826 x the MAD of the deviations from the expected value (the standard
   deviation for normal noise, but not inflated by the anomalies themselves), floored so a
   flat series does not turn noise-sized wiggles into anomalies (`MIN_SCALE_BY_UNIT`, and a
   hundredth of the series' typical level).

A point's score is its deviation in spreads; beyond `threshold` spreads it is anomalous, and
the band is expected +/- threshold spreads. The baseline includes the scored window: the
median and MAD tolerate a minority of anomalies, and a short history still gets a baseline.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from oaktree.catalogue import CATALOGUE
from oaktree.events import Event, Severity
from oaktree.warehouse.buckets import day_number_sql, day_of_week_sql, hour_of_day_sql
from oaktree.warehouse.lake import cursor
from oaktree.warehouse.read import bucket_value_sql, in_list
from oaktree.warehouse.schema import Resolution

# A spread below this is noise for the unit: a CPU moving by half a point is never an anomaly, nor
# one throttled request or one failed status check (threshold alerts are for those).
MIN_SCALE_BY_UNIT = {"Percent": 1.0, "Milliseconds": 0.5, "Count": 1.0}
# The spread of normally distributed noise is 1.4826 times its median absolute deviation.
MAD_TO_SIGMA = 1.4826
ANOMALY_EVENT = "anomaly_detected"
# The series judged: every catalogue statistic except a Maximum kept beside an Average. A
# bucket's maximum of 1-minute values is an extreme of noise whose spread a MAD understates,
# and whatever moves it moves the Average too.
JUDGED_SERIES = tuple(
    sorted(
        {
            (spec.series_name, statistic)
            for spec in CATALOGUE
            for statistic in spec.statistics
            if not (statistic == "Maximum" and "Average" in spec.statistics)
        }
    )
)
RESOLUTION = Resolution.FIVE_MINUTES
DEFAULT_THRESHOLD = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class DetectionSettings:
    """How baselines are built and points judged.

    `lookback`: history the baseline is built from (ending at the end of the scored range).
    `threshold`: spreads from the expected value beyond which a point is anomalous.
    `neighbour_hours`: hours either side of an hour of day pooled into its profile.
    `min_weekday_samples`: days of a weekday needed before the weekday effect is used.
    """

    lookback: timedelta = timedelta(days=28)
    threshold: float = DEFAULT_THRESHOLD
    neighbour_hours: int = 1
    min_weekday_samples: int = 3


def _min_scale_sql() -> str:
    cases = " ".join(f"WHEN '{unit}' THEN {scale}" for unit, scale in MIN_SCALE_BY_UNIT.items())
    return f"CASE any_value(unit) {cases} ELSE 0 END"


def _baseline_sql(points_filter: str) -> str:
    """Return the WITH clauses every baseline query shares, ending with `deviations` and `spread`.

    `points_filter` selects the 5-minute buckets (alias t) the baseline is built from; the
    parameters baseline_start, end, neighbours, min_weekdays and mad_to_sigma must be bound.
    """
    return f"""
    WITH points AS (
        SELECT t.resource_id, t.resource_type, t.region, t.metric_name, t.statistic, t.unit,
               t.bucket AS ts, {bucket_value_sql("t")} AS value,
               {hour_of_day_sql("t.bucket")} AS hour_of_day, {day_of_week_sql("t.bucket")} AS day_of_week,
               {day_number_sql("t.bucket")} AS day
        FROM {RESOLUTION.table.name} t
        WHERE t.bucket >= $baseline_start AND t.bucket < $end AND {points_filter}
    ), neighbours AS (
        SELECT c.range AS centre, (c.range + o.range + 24) % 24 AS hour_of_day
        FROM range(24) c CROSS JOIN range(-$neighbours, $neighbours + 1) o
    ), daily_profile AS (
        SELECT p.resource_id, p.metric_name, p.statistic, n.centre AS hour_of_day, median(p.value) AS level
        FROM points p JOIN neighbours n USING (hour_of_day)
        GROUP BY p.resource_id, p.metric_name, p.statistic, n.centre
    ), deseasoned AS (
        SELECT p.*, d.level, p.value - d.level AS residual
        FROM points p JOIN daily_profile d USING (resource_id, metric_name, statistic, hour_of_day)
    ), weekday AS (
        SELECT resource_id, metric_name, statistic, day_of_week,
               CASE WHEN count(DISTINCT day) >= $min_weekdays THEN median(residual) ELSE 0 END AS effect
        FROM deseasoned GROUP BY ALL
    ), deviations AS (
        SELECT d.*, d.level + w.effect AS expected, d.residual - w.effect AS deviation
        FROM deseasoned d JOIN weekday w USING (resource_id, metric_name, statistic, day_of_week)
    ), spread AS (
        SELECT resource_id, metric_name, statistic,
               greatest($mad_to_sigma * mad(deviation), {_min_scale_sql()},
                        0.01 * median(abs(value)), 1e-9) AS scale
        FROM deviations GROUP BY ALL
    )"""


def _baseline_params(end: datetime, detection: DetectionSettings) -> dict[str, Any]:
    return {
        "baseline_start": end - detection.lookback,
        "end": end,
        "neighbours": detection.neighbour_hours,
        "min_weekdays": detection.min_weekday_samples,
        "mad_to_sigma": MAD_TO_SIGMA,
    }


def score_points(
    connection: duckdb.DuckDBPyConnection,
    *,
    start: datetime,
    end: datetime,
    detection: DetectionSettings = DetectionSettings(),
    metric_names: Sequence[str] | None = None,
    resource_ids: Sequence[str] | None = None,
    resource_types: Sequence[str] | None = None,
    only_anomalous: bool = False,
) -> pd.DataFrame:
    """Return every 5-minute point of `start`..`end` with its baseline, band and score.

    Columns: resource_id, resource_type, region, metric_name, statistic, unit, ts, value,
    expected, lower, upper, score, anomalous. The baseline comes from `detection.lookback`
    before `end`. `only_anomalous` keeps the anomalous points (what `find_anomalies` returns).
    The resource detail chart draws lower/upper as the band.
    """
    params = _baseline_params(end, detection)
    params.update(
        {"start": start, "threshold": detection.threshold, "judged": [list(pair) for pair in JUDGED_SERIES]}
    )
    filters = [
        in_list("t.metric_name", "metrics", metric_names, params),
        "(t.metric_name, t.statistic) IN (SELECT (s[1], s[2]) FROM unnest($judged) AS u(s))",
        in_list("t.resource_id", "ids", resource_ids, params),
        in_list("t.resource_type", "types", resource_types, params),
    ]
    keep = "WHERE abs(score) > $threshold" if only_anomalous else ""
    sql = f"""
    {_baseline_sql(" AND ".join(filters))}, scored AS (
        SELECT d.resource_id, d.resource_type, d.region, d.metric_name, d.statistic, d.unit, d.ts,
               d.value, d.expected, d.expected - $threshold * s.scale AS lower,
               d.expected + $threshold * s.scale AS upper, d.deviation / s.scale AS score
        FROM deviations d JOIN spread s USING (resource_id, metric_name, statistic)
        WHERE d.ts >= $start
    )
    SELECT *, abs(score) > $threshold AS anomalous FROM scored {keep}
    ORDER BY resource_id, metric_name, statistic, ts
    """
    with cursor(connection) as own:
        return own.execute(sql, params).df()


def seasonal_baseline(
    connection: duckdb.DuckDBPyConnection,
    *,
    keys: pd.DataFrame,
    end: datetime,
    detection: DetectionSettings = DetectionSettings(),
) -> pd.DataFrame:
    """Return the baseline of each series of `keys` (resource_id, metric_name, statistic) as of `end`.

    One row per series, day of week (0 = Monday) and hour of day: expected (the value the
    series usually has then) and scale (its spread). The band of a 5-minute period starting
    then is expected +/- k x scale: what the alert engine's band operators compare with.
    Series without history in the lookback have no rows.
    """
    params = _baseline_params(end, detection)
    wanted = keys[["resource_id", "metric_name", "statistic"]].drop_duplicates()
    wanted_only = (
        "(t.resource_id, t.metric_name, t.statistic) IN "
        "(SELECT (resource_id, metric_name, statistic) FROM _baseline_keys)"
    )
    sql = f"""
    {_baseline_sql(wanted_only)}
    SELECT d.resource_id, d.metric_name, d.statistic, g.day_of_week, d.hour_of_day,
           d.level + coalesce(w.effect, 0) AS expected, s.scale
    FROM daily_profile d
    JOIN spread s USING (resource_id, metric_name, statistic)
    CROSS JOIN range(7) g(day_of_week)
    LEFT JOIN weekday w ON w.resource_id = d.resource_id AND w.metric_name = d.metric_name
         AND w.statistic = d.statistic AND w.day_of_week = g.day_of_week
    ORDER BY d.resource_id, d.metric_name, d.statistic, g.day_of_week, d.hour_of_day
    """
    with cursor(connection) as own:
        own.register("_baseline_keys", wanted)
        return own.execute(sql, params).df()


def find_anomalies(
    connection: duckdb.DuckDBPyConnection,
    *,
    start: datetime,
    end: datetime,
    detection: DetectionSettings = DetectionSettings(),
    metric_names: Sequence[str] | None = None,
    resource_ids: Sequence[str] | None = None,
    resource_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the anomalous 5-minute points of `start`..`end` (the columns of `score_points`)."""
    return score_points(
        connection,
        start=start,
        end=end,
        detection=detection,
        metric_names=metric_names,
        resource_ids=resource_ids,
        resource_types=resource_types,
        only_anomalous=True,
    )


def anomaly_episodes(anomalies: pd.DataFrame, *, max_gap: timedelta = RESOLUTION.width) -> pd.DataFrame:
    """Return anomalous points grouped into episodes: runs of one series no more than `max_gap` apart.

    Columns: resource_id, resource_type, region, metric_name, statistic, start, end (the end of
    the last bucket), points, peak_score (the score furthest from 0, signed), peak_value,
    expected_at_peak, direction (above or below). Longest-lasting surprises first per series.
    """
    columns = [
        "resource_id",
        "resource_type",
        "region",
        "metric_name",
        "statistic",
        "start",
        "end",
        "points",
        "peak_score",
        "peak_value",
        "expected_at_peak",
        "direction",
    ]
    if anomalies.empty:
        return pd.DataFrame(columns=columns)
    with duckdb.connect() as local:
        local.execute("SET TimeZone = 'UTC'")
        local.register("anomalous", anomalies)
        return local.execute(
            """
            WITH marked AS (
                SELECT *,
                       CASE WHEN ts - lag(ts) OVER series <= to_microseconds($gap) THEN 0 ELSE 1 END
                       AS starts
                FROM anomalous WINDOW series AS (PARTITION BY resource_id, metric_name, statistic ORDER BY ts)
            ), numbered AS (
                SELECT *, sum(starts) OVER (PARTITION BY resource_id, metric_name, statistic ORDER BY ts)
                       AS episode
                FROM marked
            )
            SELECT resource_id, any_value(resource_type) AS resource_type, any_value(region) AS region,
                   metric_name, statistic, min(ts) AS start, max(ts) + to_microseconds($width) AS "end",
                   count(*) AS points, arg_max(score, abs(score)) AS peak_score,
                   arg_max(value, abs(score)) AS peak_value,
                   arg_max(expected, abs(score)) AS expected_at_peak,
                   CASE WHEN arg_max(score, abs(score)) > 0 THEN 'above' ELSE 'below' END AS direction
            FROM numbered GROUP BY resource_id, metric_name, statistic, episode
            ORDER BY resource_id, metric_name, statistic, start
            """,
            {
                "gap": int(max_gap / timedelta(microseconds=1)),
                "width": int(RESOLUTION.width / timedelta(microseconds=1)),
            },
        ).df()[columns]


def _event_id(resource_id: str, metric_name: str, statistic: str, start: datetime) -> str:
    """Return the same id for the same episode, so a re-run stores its event once."""
    text = f"{resource_id}|{metric_name}|{statistic}|{start.isoformat()}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def anomaly_events(
    episodes: pd.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    account_ids: dict[str, str] | None = None,
) -> list[Event]:
    """Return one `anomaly_detected` event per episode; critical beyond twice the threshold.

    The event id is derived from the series and the episode's start, so recording the events
    of a re-run stores nothing twice.
    """
    events = []
    for row in episodes.itertuples(index=False):
        start = pd.Timestamp(row.start).to_pydatetime()
        end = pd.Timestamp(row.end).to_pydatetime()
        severity = Severity.CRITICAL if abs(row.peak_score) >= 2 * threshold else Severity.WARNING
        message = (
            f"{row.metric_name} ({row.statistic}) {row.direction} its usual band "
            f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC: peak {row.peak_value:.4g}, "
            f"expected {row.expected_at_peak:.4g} (score {row.peak_score:.1f})"
        )
        events.append(
            Event(
                resource_id=row.resource_id,
                resource_type=row.resource_type,
                region=row.region,
                event_type=ANOMALY_EVENT,
                severity=severity,
                message=message,
                timestamp=start,
                details={
                    "metric_name": row.metric_name,
                    "statistic": row.statistic,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "points": int(row.points),
                    "peak_score": float(row.peak_score),
                    "peak_value": float(row.peak_value),
                    "expected_at_peak": float(row.expected_at_peak),
                    "direction": row.direction,
                },
                event_id=_event_id(row.resource_id, row.metric_name, row.statistic, start),
                account_id=(account_ids or {}).get(row.resource_id),
            )
        )
    return events
