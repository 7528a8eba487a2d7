"""What the resource detail page draws over a metric chart: an anomaly band and a forecast.

The detail page calls `chart_overlays` for every chart and passes the result to
`charts.metric_figure`. The bands and forecasts of all of a resource's series are read in one
cached query each (`cached_read`), so the second and later charts of a page cost nothing. An
overlay is an extra: if reading it fails, the chart is drawn without it and the failure is
logged, never shown as a broken page.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pandas as pd

from dashboards.context import cached_read, warehouse
from oaktree.analytics import findings
from oaktree.logs import get_logger
from oaktree.warehouse import read


@dataclasses.dataclass(frozen=True, slots=True)
class ChartOverlays:
    """Optional frames for `metric_figure`: band (ts, lower, upper), forecast (ts, value[, lower, upper])."""

    band: pd.DataFrame | None = None
    forecast: pd.DataFrame | None = None


def _one_series(frame: pd.DataFrame, metric_name: str, statistic: str) -> pd.DataFrame | None:
    rows = frame[(frame["metric_name"] == metric_name) & (frame["statistic"] == statistic)]
    return None if rows.empty else rows.reset_index(drop=True)


def chart_overlays(
    *, resource_id: str, metric_name: str, statistic: str, start: datetime, end: datetime
) -> ChartOverlays:
    """Return the anomaly band and latest forecast of one series over `start`..`end` (none if absent).

    Both come at the resolution the detail chart reads for the range (`read.pick_resolution`); the
    forecast reaches as far past `end` as the range reaches before it (24 hours at most).
    """
    if warehouse(quiet=True) is None:
        return ChartOverlays()
    resolution = read.pick_resolution(start, end)
    try:
        bands = cached_read(
            findings.series_bands, resource_id=resource_id, start=start, end=end, resolution=resolution
        )
        forecasts = cached_read(
            findings.latest_series_forecasts,
            resource_id=resource_id,
            start=start,
            end=end,
            resolution=resolution,
        )
    except Exception:
        # Deliberately broad: an overlay is optional, and no failure reading it (a lake older than
        # the analytics tables, a catalog hiccup, an odd row) may cost the user the chart itself.
        get_logger("dashboards").exception(
            "dashboard.overlays_failed", resource_id=resource_id, metric_name=metric_name
        )
        return ChartOverlays()
    band = _one_series(bands, metric_name, statistic)
    forecast = _one_series(forecasts, metric_name, statistic)
    if forecast is not None:
        # Look ahead no further than the chart looks back: a 24-hour forecast beside a 3-hour
        # range would squeeze the measured part into an eighth of the chart.
        forecast = forecast[forecast["ts"] < pd.Timestamp(end + (end - start))]
        forecast = None if forecast.empty else forecast
    return ChartOverlays(
        band=None if band is None else band[["ts", "lower", "upper"]],
        forecast=None
        if forecast is None
        else forecast.rename(columns={"forecast": "value"})[["ts", "value", "lower", "upper"]],
    )
