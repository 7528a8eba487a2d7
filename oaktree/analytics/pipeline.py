"""The daily analysis: anomalies, recommendations and forecasts computed, stored, and summed up.

The analytics flow and `oaktree analytics run` both call these steps and render the same
headline (`headline_markdown`). Every step reads up to `analysis_end` (the start of the current
hour: the rollups of earlier hours are complete) and is safe to re-run: anomalies and
forecasts are upserted on their keys, anomaly events carry ids derived from their episode,
and recommendations are replaced whole.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from oaktree.analytics import anomalies, forecasts, rightsizing, store
from oaktree.config import Settings
from oaktree.eventlog import record_events
from oaktree.warehouse import read
from oaktree.warehouse.lake import open_for_writing

ANOMALY_WINDOW = timedelta(hours=24)
HEADLINE_ROWS = 5


def analysis_end(now: datetime | None = None) -> datetime:
    """Return the start of the current UTC hour: the end of the history an analysis reads."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def _account_ids(settings: Settings, resource_ids: list[str]) -> dict[str, str]:
    """Return the account of each resource the inventory knows (for the events)."""
    connection = open_for_writing(settings)
    try:
        inventory = read.inventory(connection, resource_ids=resource_ids)
    finally:
        connection.close()
    return {
        row.resource_id: row.account_id for row in inventory.itertuples() if isinstance(row.account_id, str)
    }


def detect_and_store_anomalies(
    settings: Settings, *, end: datetime, window: timedelta = ANOMALY_WINDOW
) -> pd.DataFrame:
    """Find the anomalies of `window` before `end`, store them and their events; return the episodes."""
    connection = open_for_writing(settings)
    try:
        found = anomalies.find_anomalies(connection, start=end - window, end=end)
        store.save_anomalies(connection, found)
    finally:
        connection.close()
    episodes = anomalies.anomaly_episodes(found)
    if not episodes.empty:
        accounts = _account_ids(settings, sorted(set(episodes["resource_id"])))
        record_events(settings, anomalies.anomaly_events(episodes, account_ids=accounts))
    return episodes


def recommend_and_store(
    settings: Settings, *, end: datetime, window: timedelta = rightsizing.WINDOW
) -> pd.DataFrame:
    """Compute the recommendations over `window` before `end` and replace the stored ones; return them."""
    connection = open_for_writing(settings)
    try:
        found = rightsizing.recommendations(connection, end=end, window=window)
        store.replace_recommendations(connection, found)
    finally:
        connection.close()
    return found


def forecast_and_store(
    settings: Settings, *, end: datetime, lookback: timedelta = forecasts.LOOKBACK
) -> pd.DataFrame:
    """Forecast every capacity series from its history before `end` and store the forecasts; return them."""
    connection = open_for_writing(settings)
    try:
        found = forecasts.forecast_fleet(connection, end=end, lookback=lookback)
        store.save_forecasts(connection, found)
    finally:
        connection.close()
    return found


@dataclasses.dataclass(frozen=True)
class AnalysisSummary:
    """What one analysis found: anomaly episodes, recommendations, forecasts."""

    end: datetime
    episodes: pd.DataFrame
    recommendations: pd.DataFrame
    forecasts: pd.DataFrame
    anomaly_window: timedelta = ANOMALY_WINDOW

    def nearest_thresholds(self) -> pd.DataFrame:
        """Return one row per forecast series that is heading for its threshold, soonest first."""
        if self.forecasts.empty:
            return self.forecasts
        series = self.forecasts.drop_duplicates(["resource_id", "metric_name", "statistic"])
        heading = series[series["days_until_threshold"].notna()]
        return heading.sort_values("days_until_threshold")[
            ["resource_id", "metric_name", "statistic", "threshold", "days_until_threshold"]
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict (counts and the headline rows)."""
        records = frame_records
        return {
            "analysed_until": self.end.isoformat(),
            "anomaly_episodes": len(self.episodes),
            "recommendations": len(self.recommendations),
            "monthly_saving": round(float(self.recommendations["monthly_saving"].sum()), 2)
            if not self.recommendations.empty
            else 0.0,
            "forecast_series": int(self.forecasts[["resource_id", "metric_name"]].drop_duplicates().shape[0])
            if not self.forecasts.empty
            else 0,
            "top_anomalies": records(_top_episodes(self.episodes)),
            "top_recommendations": records(
                self.recommendations.head(HEADLINE_ROWS)[["name", "kind", "action", "monthly_saving"]]
            ),
            "nearest_thresholds": records(self.nearest_thresholds().head(HEADLINE_ROWS)),
        }


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a DataFrame's rows as dicts of plain Python values (NaN and NaT as None), for JSON."""
    rows = []
    for row in frame.astype(object).to_dict("records"):
        rows.append({key: None if _missing(value) else _plain(value) for key, value in row.items()})
    return rows


def _missing(value: Any) -> bool:
    return not isinstance(value, list | dict | tuple) and bool(pd.isna(value))


def _plain(value: Any) -> Any:
    # numpy scalars (int64, float64, bool_) become the Python numbers JSON knows.
    return value.item() if hasattr(value, "item") and not isinstance(value, pd.Timestamp) else value


def _top_episodes(episodes: pd.DataFrame) -> pd.DataFrame:
    if episodes.empty:
        return pd.DataFrame(
            columns=["resource_id", "metric_name", "start", "end", "peak_value", "peak_score"]
        )
    ranked = episodes.assign(strength=episodes["peak_score"].abs()).sort_values("strength", ascending=False)
    return ranked.head(HEADLINE_ROWS)[
        ["resource_id", "metric_name", "start", "end", "peak_value", "peak_score"]
    ]


def _markdown_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_none_"
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}"
        return str(value).replace("|", "/")

    rows = ["| " + " | ".join(cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def headline_markdown(summary: AnalysisSummary) -> str:
    """Return the headline findings as markdown: the flow's artifact and `oaktree analytics run`'s output."""
    facts = summary.to_dict()
    lines = [
        f"# Analytics up to {summary.end:%Y-%m-%d %H:%M} UTC",
        "",
        f"- {facts['anomaly_episodes']} anomaly episode(s) in the last "
        f"{summary.anomaly_window / timedelta(hours=1):g} hours",
        f"- {facts['recommendations']} recommendation(s), saving about "
        f"${facts['monthly_saving']:,.2f} a month",
        f"- {facts['forecast_series']} capacity series forecast for the next 24 hours",
        "",
        "## Strongest anomalies",
        _markdown_table(_top_episodes(summary.episodes)),
        "",
        "## Largest savings",
        _markdown_table(
            summary.recommendations.head(HEADLINE_ROWS)[["name", "kind", "action", "monthly_saving"]]
        ),
        "",
        "## Nearest capacity thresholds",
        _markdown_table(summary.nearest_thresholds().head(HEADLINE_ROWS)),
    ]
    return "\n".join(lines)
