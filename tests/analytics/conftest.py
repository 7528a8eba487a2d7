"""Lakes built once per session: a small one with known numbers, and five days of sandbox history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from oaktree.config import Settings, load_settings
from oaktree.discovery.store import save_inventory
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse import connect
from oaktree.warehouse.lake import open_for_writing
from oaktree.warehouse.points import write_points
from oaktree.warehouse.rollups import rollup
from oaktree.warehouse.schema import POINT_SCHEMA, Resolution
from sandbox.history import history_points, planned_resources
from sandbox.metric_generator import IncidentSchedule, SimulatedResource

# A Monday, so the first day of the data is day_of_week 0.
MONDAY = datetime(2024, 3, 4, tzinfo=UTC)
TWO_WEEKS = timedelta(days=14)
END = MONDAY + TWO_WEEKS

RESOURCES = [
    Resource("i-a", "arn:i-a", ResourceType.EC2_INSTANCE, "us-east-1", "alpha", "running"),
    Resource("i-b", "arn:i-b", ResourceType.EC2_INSTANCE, "us-east-1", "bravo", "running"),
    Resource("i-c", "arn:i-c", ResourceType.EC2_INSTANCE, "eu-west-1", "charlie", "running"),
    Resource("arn:t", "arn:t", ResourceType.DYNAMODB_TABLE, "us-east-1", "orders", "ACTIVE"),
]


def minute_points(
    resource_id: str,
    values: list[float],
    *,
    start: datetime = MONDAY,
    metric_name: str = "CPUUtilization",
    statistic: str = "Average",
    unit: str = "Percent",
    resource_type: str = "ec2_instance",
    region: str = "us-east-1",
) -> pa.Table:
    """Return one series of consecutive 1-minute points from `start` (columns in POINT_SCHEMA)."""
    count = len(values)
    return pa.Table.from_pydict(
        {
            "resource_id": [resource_id] * count,
            "resource_type": [resource_type] * count,
            "region": [region] * count,
            "metric_name": [metric_name] * count,
            "statistic": [statistic] * count,
            "unit": [unit] * count,
            "ts": [start + timedelta(minutes=i) for i in range(count)],
            "value": [float(v) for v in values],
            "account_id": ["123456789012"] * count,
        },
        schema=POINT_SCHEMA,
    )


def known_points() -> pa.Table:
    """Return the known series.

    i-a: CPU 10 the first week, 30 the second. i-b: CPU equal to the hour of day, plus 50 on
    Mondays, both weeks. i-c: CPU 5, second week only. arn:t: 2 read units a minute.
    """
    minutes = int(TWO_WEEKS / timedelta(minutes=1))
    week = minutes // 2
    moments = [MONDAY + timedelta(minutes=i) for i in range(minutes)]
    return pa.concat_tables(
        [
            minute_points("i-a", [10.0] * week + [30.0] * week),
            minute_points("i-b", [m.hour + (50.0 if m.weekday() == 0 else 0.0) for m in moments]),
            minute_points("i-c", [5.0] * week, start=MONDAY + TWO_WEEKS / 2, region="eu-west-1"),
            minute_points(
                "arn:t",
                [2.0] * minutes,
                metric_name="ConsumedReadCapacityUnits",
                statistic="Sum",
                unit="Count",
                resource_type="dynamodb_table",
            ),
        ]
    )


def build_lake(settings: Settings, points: pa.Table, resources: list[Resource]) -> None:
    """Save the inventory, write the points and roll them up."""
    save_inventory(settings, resources)
    write_points(settings, points)
    connection = open_for_writing(settings)
    try:
        newest = max(points.column("ts").to_pylist())
        rollup(connection, now=newest + timedelta(days=1))
    finally:
        connection.close()


@pytest.fixture(scope="session")
def known_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a module-wide lake holding `known_points` (its own data dir)."""
    data_dir: Path = tmp_path_factory.mktemp("known-lake")
    settings = load_settings(data_dir=data_dir)
    build_lake(settings, known_points(), RESOURCES)
    return settings


@pytest.fixture
def known_lake(known_settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Return a read-only connection to the known lake."""
    connection = connect(settings=known_settings)
    yield connection
    connection.close()


def constant_buckets(
    resource_id: str,
    *,
    value: float,
    start: datetime,
    days: float,
    metric_name: str = "CPUUtilization",
    statistic: str = "Average",
    resource_type: str = "ec2_instance",
    region: str = "us-east-1",
) -> pa.Table:
    """Return 5-minute buckets (`metrics_5m` rows) of a series whose every 1-minute value is `value`."""
    table = Resolution.FIVE_MINUTES.table
    count = int(timedelta(days=days) / Resolution.FIVE_MINUTES.width)
    total = 5 * value if statistic == "Sum" else value
    rows = {
        "resource_id": [resource_id] * count,
        "resource_type": [resource_type] * count,
        "region": [region] * count,
        "metric_name": [metric_name] * count,
        "statistic": [statistic] * count,
        "unit": ["Count" if statistic == "Sum" else "Percent"] * count,
        "bucket": [start + i * Resolution.FIVE_MINUTES.width for i in range(count)],
        "avg": [value] * count,
        "min": [value] * count,
        "max": [value] * count,
        "sum": [total] * count,
        "count": [5] * count,
        "p95": [None if statistic == "Sum" else value] * count,
        "account_id": ["123456789012"] * count,
    }
    return pa.Table.from_pydict(rows, schema=table.arrow_schema())


SEED = 42
REGION = "us-east-1"
# The sandbox starts at SANDBOX_START: its incident began 20 minutes before and recurs every 6 hours.
SANDBOX_START = datetime(2026, 3, 16, 12, 7, tzinfo=UTC)
INCIDENTS = IncidentSchedule.around(SANDBOX_START)
HISTORY = timedelta(days=5)
FLEET = planned_resources(seed=SEED, region=REGION)


@pytest.fixture(scope="session")
def sandbox_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A lake with five days of the sandbox's CPU and PutItem throttles in one region, rolled up."""
    settings = load_settings(data_dir=tmp_path_factory.mktemp("sandbox-lake"))
    points = history_points(
        seed=SEED,
        resources=FLEET,
        start=SANDBOX_START - HISTORY,
        end=SANDBOX_START,
        incidents=INCIDENTS,
        metric_names=["CPUUtilization", "ThrottledRequests:PutItem"],
    )
    build_lake(settings, points, [simulated.resource for simulated in FLEET])
    return settings


@pytest.fixture
def sandbox_lake(sandbox_settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Return a read-only connection to the sandbox lake."""
    connection = connect(settings=sandbox_settings)
    yield connection
    connection.close()


def build_day_of_sandbox(settings: Settings, end: datetime) -> list[SimulatedResource]:
    """Write a day of CPU of three sandbox instances (incident, normal, idle) before `end`; return them.

    The incident recurs at end - 3 h, - 9 h, - 15 h and - 21 h: four whole incidents in the day.
    """
    fleet = [sim for sim in FLEET if sim.resource.name in {"api-2", "web-1", "bastion"}]
    points = history_points(
        seed=SEED,
        resources=fleet,
        start=end - timedelta(days=1),
        end=end,
        incidents=IncidentSchedule(first_start=end - timedelta(hours=3)),
        metric_names=["CPUUtilization"],
    )
    build_lake(settings, points, [sim.resource for sim in fleet])
    return fleet
