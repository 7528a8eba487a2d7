"""Forecasts: a daily pattern forecast with an interval; a rising trend gives days until its threshold."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from oaktree.analytics import forecasts, store
from oaktree.config import Settings, load_settings
from oaktree.discovery.store import save_inventory
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse import connect
from oaktree.warehouse.lake import LAKE, open_for_writing
from oaktree.warehouse.schema import Resolution

END = datetime(2026, 11, 30, tzinfo=UTC)
DAYS = 14
HOURS = [END - timedelta(hours=DAYS * 24 - i) for i in range(DAYS * 24)]
TABLE_ARN = "arn:aws:dynamodb:us-east-1:1:table/orders"


def _daily(hour: datetime) -> float:
    """A daily cycle between 30 and 50 %."""
    return 40 + 10 * math.sin(2 * math.pi * hour.hour / 24)


def _rising(hour: datetime) -> float:
    """Daily peaks rising by 2 points a day: 50 on the first day, 76 on the fourteenth."""
    day = (hour - HOURS[0]).days
    return 50 + 2 * day - (10 if hour.hour != 12 else 0)


def _hourly_rows(resource_id: str, values: list[float], **columns: str) -> pa.Table:
    table = Resolution.HOUR.table
    count = len(values)
    statistic = columns.get("statistic", "Average")
    rows = {
        "resource_id": [resource_id] * count,
        "resource_type": [columns.get("resource_type", "ec2_instance")] * count,
        "region": ["us-east-1"] * count,
        "metric_name": [columns.get("metric_name", "CPUUtilization")] * count,
        "statistic": [statistic] * count,
        "unit": ["Percent"] * count,
        "bucket": HOURS,
        "avg": values,
        "min": values,
        "max": values,
        "sum": values,
        "count": [60] * count,
        "p95": values,
        "account_id": ["1"] * count,
    }
    return pa.Table.from_pydict(rows, schema=table.arrow_schema())


@pytest.fixture(scope="module")
def hourly_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("forecast-lake"))
    save_inventory(
        settings,
        [
            Resource("i-daily", "arn:i-daily", ResourceType.EC2_INSTANCE, "us-east-1", "daily", "running"),
            Resource("i-rising", "arn:i-rising", ResourceType.EC2_INSTANCE, "us-east-1", "rising", "running"),
            Resource(
                TABLE_ARN,
                TABLE_ARN,
                ResourceType.DYNAMODB_TABLE,
                "us-east-1",
                "orders",
                "ACTIVE",
                capacity_mode="PROVISIONED",
                read_capacity_units=10,
                write_capacity_units=5,
            ),
        ],
    )
    rows = pa.concat_tables(
        [
            _hourly_rows("i-daily", [_daily(hour) for hour in HOURS]),
            _hourly_rows("i-rising", [_rising(hour) for hour in HOURS]),
            # 4 read units a second, every hour: 14,400 units an hour, half of 80 % of 10 a second.
            _hourly_rows(
                TABLE_ARN,
                [14_400.0] * len(HOURS),
                metric_name="ConsumedReadCapacityUnits",
                statistic="Sum",
                resource_type="dynamodb_table",
            ),
        ]
    )
    connection = open_for_writing(settings)
    try:
        connection.register("_rows", rows)
        connection.execute(f"INSERT INTO {LAKE}.{Resolution.HOUR.table.name} SELECT * FROM _rows")
    finally:
        connection.close()
    return settings


@pytest.fixture
def hourly_lake(hourly_settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(settings=hourly_settings)
    yield connection
    connection.close()


def test_a_daily_pattern_is_forecast_24_hours_ahead_with_an_interval(
    hourly_lake: duckdb.DuckDBPyConnection,
) -> None:
    found = forecasts.forecast_fleet(hourly_lake, end=END, resource_ids=["i-daily"])

    assert len(found) == 24
    assert found["ts"].tolist() == list(pd.date_range(END, periods=24, freq="h"))
    expected = np.array([_daily(hour.to_pydatetime()) for hour in found["ts"]])
    assert np.abs(found["forecast"].to_numpy() - expected).max() < 1.0
    assert (found["lower"] <= found["forecast"]).all() and (found["forecast"] <= found["upper"]).all()
    assert set(found["model"]) == {"ETS(A,Ad,A) period 24"}
    assert set(found["threshold"]) == {80.0}
    assert found["days_until_threshold"].isna().all()  # a flat daily cycle never reaches 80 %


def test_days_until_threshold_from_the_trend_of_daily_peaks(hourly_lake: duckdb.DuckDBPyConnection) -> None:
    outlook = forecasts.days_until_threshold(hourly_lake, end=END).set_index("resource_id")

    rising = outlook.loc["i-rising"]
    assert rising["slope_per_day"] == pytest.approx(2.0)
    assert rising["latest_peak"] == pytest.approx(76.0)
    assert rising["days_until_threshold"] == pytest.approx(2.0)  # (80 - 76) / 2
    # The table uses half of its threshold (80 % of 10 units a second) and is not growing.
    table = outlook.loc[TABLE_ARN]
    assert table["threshold"] == pytest.approx(0.8 * 10 * 3600)
    assert math.isnan(table["days_until_threshold"])


def test_a_short_series_gets_a_non_seasonal_model_and_a_tiny_one_none() -> None:
    hours = pd.date_range(END - timedelta(hours=20), periods=20, freq="h")
    short = forecasts.forecast_series(pd.Series(np.linspace(10, 30, 20), index=hours))
    tiny = forecasts.forecast_series(pd.Series([1.0, 2.0, 3.0], index=hours[:3]))

    assert set(short["model"]) == {"ETS(A,Ad,N)"} and len(short) == 24
    assert short["forecast"].iloc[0] > 29  # the rise carries on (damped)
    assert tiny.empty


def test_forecasts_are_upserted_once_per_key(
    hourly_settings: Settings, hourly_lake: duckdb.DuckDBPyConnection
) -> None:
    found = forecasts.forecast_fleet(hourly_lake, end=END)
    writer = open_for_writing(hourly_settings)
    try:
        store.save_forecasts(writer, found)
        store.save_forecasts(writer, found)
        stored = writer.execute(f"SELECT count(*) FROM {LAKE}.forecasts").fetchall()[0][0]
    finally:
        writer.close()

    assert stored == len(found) == 3 * 24


def test_a_percentage_is_never_forecast_above_100() -> None:
    hours = pd.date_range(END - timedelta(hours=30), periods=30, freq="h")
    climbing = pd.Series(np.linspace(60, 99, 30), index=hours)

    capped = forecasts.forecast_series(climbing, ceiling=100.0)

    assert capped["upper"].max() == 100.0 and capped["forecast"].max() <= 100.0
