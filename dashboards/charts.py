"""Plotly charts of metrics: units on the axis, times in the user's zone, hover values, optional overlays.

`metric_figure` draws one metric of one resource; it takes an optional anomaly `band` (ts, lower,
upper) and `forecast` (ts, value and optionally lower, upper) drawn under and after the series.
The detail page asks `dashboards.overlays.chart_overlays` for them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

if TYPE_CHECKING:
    import pandas as pd

ORANGE = "#f97316"
DARK_ORANGE = "#c2410c"
GRAY = "#6b7280"
LIGHT_GRAY = "#d1d5db"
BAND_FILL = "rgba(107, 114, 128, 0.18)"
FORECAST_FILL = "rgba(249, 115, 22, 0.15)"

# CloudWatch units as axis labels.
UNIT_LABELS = {
    "Percent": "%",
    "Bytes": "bytes",
    "Count": "count",
    "Milliseconds": "ms",
    "Seconds": "s",
    "Count/Second": "count/s",
    "Bytes/Second": "bytes/s",
}


def unit_label(unit: str | None) -> str:
    """Return the axis label of a CloudWatch unit."""
    if not unit or unit == "None":
        return ""
    return UNIT_LABELS.get(unit, unit)


def _local(frame: pd.DataFrame, zone: ZoneInfo, column: str = "ts") -> pd.Series:
    return frame[column].dt.tz_convert(zone)


def metric_figure(
    points: pd.DataFrame,
    *,
    title: str,
    unit: str | None,
    timezone: ZoneInfo,
    band: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
    height: int = 280,
) -> go.Figure:
    """Return a line chart of `points` (columns ts in UTC, value) with optional band and forecast.

    `band`: columns ts, lower, upper (an expected range, e.g. the anomaly band); shaded in gray.
    `forecast`: columns ts, value and optionally lower, upper; dashed orange after the series.
    """
    suffix = unit_label(unit)
    value_format = "%{y:,.2f}" + (f" {suffix}" if suffix else "")
    figure = go.Figure()
    if band is not None and not band.empty:
        band_ts = _local(band, timezone)
        figure.add_trace(
            go.Scatter(
                x=band_ts,
                y=band["upper"],
                mode="lines",
                line={"width": 0},
                name="expected (upper)",
                hoverinfo="skip",
                showlegend=False,
            )
        )
        figure.add_trace(
            go.Scatter(
                x=band_ts,
                y=band["lower"],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=BAND_FILL,
                name="expected range",
                hoverinfo="skip",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=_local(points, timezone),
            y=points["value"],
            mode="lines+markers" if len(points) < 60 else "lines",
            line={"color": ORANGE, "width": 2},
            marker={"size": 4},
            name=title,
            hovertemplate=f"%{{x|%Y-%m-%d %H:%M}}<br>{value_format}<extra></extra>",
        )
    )
    if forecast is not None and not forecast.empty:
        forecast_ts = _local(forecast, timezone)
        if {"lower", "upper"} <= set(forecast.columns):
            figure.add_trace(
                go.Scatter(
                    x=forecast_ts,
                    y=forecast["upper"],
                    mode="lines",
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
            figure.add_trace(
                go.Scatter(
                    x=forecast_ts,
                    y=forecast["lower"],
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=FORECAST_FILL,
                    name="forecast interval",
                    hoverinfo="skip",
                )
            )
        figure.add_trace(
            go.Scatter(
                x=forecast_ts,
                y=forecast["value"],
                mode="lines",
                line={"color": DARK_ORANGE, "width": 2, "dash": "dash"},
                name="forecast",
                hovertemplate=f"%{{x|%Y-%m-%d %H:%M}}<br>forecast {value_format}<extra></extra>",
            )
        )
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        hovermode="x unified",
        showlegend=band is not None or forecast is not None,
        # Below the x axis's title, not on it.
        legend={"orientation": "h", "yanchor": "top", "y": -0.45},
        plot_bgcolor="white",
    )
    figure.update_xaxes(title_text=f"time ({timezone.key})", gridcolor=LIGHT_GRAY)
    figure.update_yaxes(title_text=suffix or None, gridcolor=LIGHT_GRAY, rangemode="tozero")
    return figure


def whole_hour_offset(zone: ZoneInfo, moment: datetime) -> int | None:
    """Return the zone's offset from UTC at `moment` in whole hours, or None if it is not whole hours."""
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    hours, remainder = divmod(offset, timedelta(hours=1))
    return None if remainder else int(hours)


def heatmap_in_zone(heatmap: pd.DataFrame, offset_hours: int) -> pd.DataFrame:
    """Return an hour-of-day x weekday heatmap (UTC cells) moved to a zone `offset_hours` from UTC.

    Each cell moves round the 168 hours of the week: Monday 01:00 UTC is Monday 09:00 at UTC+8,
    Monday 00:00 UTC is Sunday 19:00 at UTC-5.
    """
    week_hour = (heatmap["day_of_week"] * 24 + heatmap["hour_of_day"] + offset_hours) % (7 * 24)
    # day_name would be stale after the move; `history.as_grid` names the days from day_of_week.
    moved = heatmap.drop(columns=["day_name"], errors="ignore").assign(
        day_of_week=week_hour // 24, hour_of_day=week_hour % 24
    )
    return moved.sort_values(["day_of_week", "hour_of_day"]).reset_index(drop=True)


def heatmap_figure(grid: pd.DataFrame, *, title: str, unit: str | None, hours_label: str) -> go.Figure:
    """Return a weekday x hour-of-day heatmap of `grid` (rows: day names, columns: hours 0-23)."""
    suffix = unit_label(unit)
    figure = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(dtype=float),
            x=[f"{int(hour):02d}:00" for hour in grid.columns],
            y=list(grid.index),
            colorscale=[[0.0, "#f3f4f6"], [0.5, "#fdba74"], [1.0, DARK_ORANGE]],
            colorbar={"title": {"text": suffix}},
            hovertemplate="%{y} %{x}<br>%{z:,.2f}" + (f" {suffix}" if suffix else "") + "<extra></extra>",
            hoverongaps=False,
        )
    )
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=330,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="white",
    )
    figure.update_xaxes(title_text=hours_label)
    figure.update_yaxes(autorange="reversed")
    return figure
