"""Anomaly bands for band rules: each period's (lower, upper) from the series' seasonal baseline.

The baseline (`oaktree.analytics.anomalies.seasonal_baseline`) gives a series' expected value
and spread for every weekday and hour; a band rule's band for a period is expected +/-
`threshold` spreads at the period's weekday and hour. One query serves every band rule of a
pass; the evaluation itself stays a pure function of values and bands.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from oaktree.alerts.evaluation import Band, period_start
from oaktree.analytics.anomalies import seasonal_baseline

if TYPE_CHECKING:
    from oaktree.alerts.engine import SeriesKey, Target


def read_bands(
    connection: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    *,
    start_of: Mapping[int, datetime],
    end_of: Mapping[int, datetime],
    baseline_end: datetime,
) -> dict[SeriesKey, dict[datetime, Band]]:
    """Return, per series of the band rules among `targets`, the band of every period in its range.

    `start_of`/`end_of` give the range per period length, as for the values; the baseline is
    learned from the history before `baseline_end`. Series without a baseline get no bands
    (their periods then count as missing).
    """
    band_targets = [target for target in targets if target.rule.comparison_operator.is_band]
    if not band_targets:
        return {}
    keys = pd.DataFrame(
        sorted({(t.resource_id, t.rule.metric_name, t.rule.source_statistic) for t in band_targets}),
        columns=["resource_id", "metric_name", "statistic"],
    )
    baseline = seasonal_baseline(connection, keys=keys, end=baseline_end)
    usual: dict[tuple[str, str, str], dict[tuple[int, int], tuple[float, float]]] = defaultdict(dict)
    for row in baseline.itertuples(index=False):
        usual[(row.resource_id, row.metric_name, row.statistic)][(row.day_of_week, row.hour_of_day)] = (
            row.expected,
            row.scale,
        )
    bands: dict[SeriesKey, dict[datetime, Band]] = {}
    for target in band_targets:
        rule = target.rule
        profile = usual.get((target.resource_id, rule.metric_name, rule.source_statistic))
        if not profile:
            continue
        period = timedelta(seconds=rule.period)
        moment = period_start(start_of[rule.period], period)
        series: dict[datetime, Band] = {}
        while moment < end_of[rule.period]:
            expected_scale = profile.get((moment.weekday(), moment.hour))
            if expected_scale is not None:
                expected, scale = expected_scale
                series[moment] = (expected - rule.threshold * scale, expected + rule.threshold * scale)
            moment += period
        bands[target.series_key] = series
    return bands
