"""Reading stored findings back: bands and forecasts at a chart's resolution, outlooks, evidence."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd
import pytest

from oaktree.analytics import findings
from oaktree.warehouse.schema import Resolution
from tests.analytics.conftest import END

DAY_BEFORE_END = END - timedelta(days=1)


@pytest.mark.parametrize(
    ("resolution", "lower", "upper"),
    [
        # arn:t reads 2 units a minute: a 5-minute sum of 10, flat, so its spread is the Count
        # floor of 1 and the band 10 +/- 5. Per minute that is 1..3; per hour 60..180.
        (Resolution.MINUTE, 1.0, 3.0),
        (Resolution.FIVE_MINUTES, 5.0, 15.0),
        (Resolution.HOUR, 60.0, 180.0),
    ],
)
def test_a_sums_band_is_rescaled_to_the_charts_bucket_width(
    known_lake: duckdb.DuckDBPyConnection, resolution: Resolution, lower: float, upper: float
) -> None:
    band = findings.series_bands(
        known_lake, resource_id="arn:t", start=DAY_BEFORE_END, end=END, resolution=resolution
    )
    reads = band[band["metric_name"] == "ConsumedReadCapacityUnits"]
    assert set(reads["statistic"]) == {"Sum"}
    assert reads["lower"].round(6).unique().tolist() == [lower]
    assert reads["upper"].round(6).unique().tolist() == [upper]
    step = max(resolution.width, Resolution.FIVE_MINUTES.width)
    assert len(reads) == timedelta(days=1) / step
    assert reads["ts"].min() == pd.Timestamp(DAY_BEFORE_END)


def test_a_resource_without_history_has_no_band(known_lake: duckdb.DuckDBPyConnection) -> None:
    band = findings.series_bands(
        known_lake, resource_id="i-unknown", start=DAY_BEFORE_END, end=END, resolution=Resolution.HOUR
    )
    assert band.empty
    assert list(band.columns) == ["metric_name", "statistic", "ts", "lower", "upper"]


def test_the_outlook_has_one_row_per_series_at_its_busiest_hour_nearest_threshold_first() -> None:
    made_at = pd.Timestamp(END)
    rows = pd.DataFrame(
        {
            "resource_id": ["a"] * 3 + ["b"] * 3,
            "name": ["alpha"] * 3 + ["bravo"] * 3,
            "resource_type": "ec2_instance",
            "region": "us-east-1",
            "metric_name": "CPUUtilization",
            "statistic": "Average",
            "made_at": made_at,
            "ts": [made_at + timedelta(hours=h) for h in (1, 2, 3)] * 2,
            "forecast": [10.0, 30.0, 20.0, 70.0, 60.0, 50.0],
            "lower": 0.0,
            "upper": [40.0, 50.0, 45.0, 90.0, 80.0, 70.0],
            "model": "ETS",
            "threshold": 80.0,
            "days_until_threshold": [None] * 3 + [2.5] * 3,
        }
    )
    outlook = findings.forecast_outlook(rows)
    assert list(outlook["name"]) == ["bravo", "alpha"]
    assert list(outlook["peak_forecast"]) == [70.0, 30.0]
    assert list(outlook["peak_upper"]) == [90.0, 50.0]
    assert list(outlook["peak_at"]) == [made_at + timedelta(hours=1), made_at + timedelta(hours=2)]


def test_evidence_reads_as_one_line() -> None:
    assert (
        findings.evidence_text('{"cpu_p95": 2.125, "days": 14, "prices_as_of": "2025-01"}')
        == "cpu p95: 2.125 · days: 14 · prices as of: 2025-01"
    )
    assert findings.evidence_text(None) == ""
