"""What the resource detail page draws over a metric chart: an anomaly band and a forecast.

The detail page calls `chart_overlays` for every chart and passes the result to
`charts.metric_figure`. Until analytics provides them, there are none.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclasses.dataclass(frozen=True, slots=True)
class ChartOverlays:
    """Optional frames for `metric_figure`: band (ts, lower, upper), forecast (ts, value[, lower, upper])."""

    band: pd.DataFrame | None = None
    forecast: pd.DataFrame | None = None


def chart_overlays(
    *, resource_id: str, metric_name: str, statistic: str, start: datetime, end: datetime
) -> ChartOverlays:
    """Return the overlays of one metric chart of the detail page (none yet)."""
    del resource_id, metric_name, statistic, start, end
    return ChartOverlays()
