"""The read side: every read function against a small known lake, and reads never write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from oaktree.config import Settings
from oaktree.discovery.store import save_inventory
from oaktree.eventlog import warehouse_rows
from oaktree.events import Event
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse import WarehouseNotFound, connect, read
from oaktree.warehouse.points import write_points
from oaktree.warehouse.rollups import rollup
from oaktree.warehouse.schema import EVENTS, Resolution
from oaktree.warehouse.writes import upsert
from tests.warehouse.builders import T0, minute, points
from tests.warehouse.conftest import snapshot_count

WEB = Resource(
    "i-web",
    "arn:web",
    ResourceType.EC2_INSTANCE,
    "us-east-1",
    "web",
    "running",
    {"team": "shop", "env": "prod"},
)
BATCH = Resource(
    "i-batch", "arn:batch", ResourceType.EC2_INSTANCE, "eu-west-1", "batch", "stopped", {"team": "data"}
)
TABLE = Resource("arn:tbl", "arn:tbl", ResourceType.DYNAMODB_TABLE, "us-east-1", "orders", "ACTIVE")


@pytest.fixture
def known_lake(settings: Settings, lake: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A lake with three resources, two CPU series over two hours, rollups and three events."""
    save_inventory(settings, [WEB, BATCH, TABLE])
    write_points(
        settings,
        pa.concat_tables(
            [
                points([10.0] * 60 + [50.0] * 60, resource_id="i-web"),
                points([1.0] * 120, resource_id="i-batch", region="eu-west-1"),
                points([80.0] * 120, resource_id="i-web", statistic="Maximum"),
            ]
        ),
    )
    rollup(lake, now=T0 + timedelta(days=1))
    upsert(
        lake,
        EVENTS,
        warehouse_rows(
            [
                Event("i-web", "ec2_instance", "us-east-1", "resource_discovered", "info", "found", T0),
                Event(
                    "i-web", "ec2_instance", "us-east-1", "state_changed", "warning", "stopped", minute(30)
                ),
                Event(
                    "i-batch", "ec2_instance", "eu-west-1", "resource_discovered", "info", "found", minute(5)
                ),
            ]
        ),
    )
    with connect(settings=settings) as reader:
        yield reader


def test_inventory_filters_by_type_region_state_tag_and_search(known_lake: duckdb.DuckDBPyConnection) -> None:
    def ids(**filters: object) -> list[str]:
        return sorted(read.inventory(known_lake, **filters)["resource_id"])

    assert ids() == ["arn:tbl", "i-batch", "i-web"]
    assert ids(resource_types=["ec2_instance"]) == ["i-batch", "i-web"]
    assert ids(regions=["us-east-1"]) == ["arn:tbl", "i-web"]
    assert ids(states=["stopped"]) == ["i-batch"]
    assert ids(tag=("team", "shop")) == ["i-web"]
    assert ids(tag=("team", None)) == ["i-batch", "i-web"]
    assert ids(search="ORD") == ["arn:tbl"]  # name, case-insensitive
    assert ids(search="prod") == ["i-web"]  # a tag value
    assert ids(resource_types=["ec2_instance"], regions=["eu-west-1"], states=["running"]) == []
    assert read.inventory(known_lake, resource_ids=["i-web"]).iloc[0]["tags"] == {
        "team": "shop",
        "env": "prod",
    }


def test_series_reads_the_resolution_the_range_calls_for(known_lake: duckdb.DuckDBPyConnection) -> None:
    two_hours = read.series(
        known_lake,
        resource_ids=["i-web"],
        metric_name="CPUUtilization",
        statistic="Average",
        start=T0,
        end=minute(120),
    )
    assert two_hours["resolution"].unique().tolist() == ["1m"]
    assert len(two_hours) == 120

    a_month = read.series(
        known_lake,
        resource_ids=["i-web", "i-batch"],
        metric_name="CPUUtilization",
        statistic="Average",
        start=T0 - timedelta(days=29),
        end=T0 + timedelta(days=1),
    )
    assert a_month["resolution"].unique().tolist() == ["1h"]
    web = a_month[a_month["resource_id"] == "i-web"]
    assert web["value"].tolist() == [10.0, 50.0]
    assert list(a_month.columns) == ["resource_id", "ts", "value", "resolution"]


def test_bucket_values_are_the_statistics_meaningful_column(known_lake: duckdb.DuckDBPyConnection) -> None:
    hourly_max = read.series(
        known_lake,
        resource_ids=["i-web"],
        metric_name="CPUUtilization",
        statistic="Maximum",
        start=T0,
        end=minute(120),
        resolution=Resolution.HOUR,
    )
    assert hourly_max["value"].tolist() == [80.0, 80.0]


def test_many_series_in_one_query_aggregated_into_alarm_periods(
    known_lake: duckdb.DuckDBPyConnection,
) -> None:
    keys = pd.DataFrame(
        {
            "resource_id": ["i-web", "i-web", "i-batch"],
            "metric_name": ["CPUUtilization"] * 3,
            "statistic": ["Average", "Maximum", "Average"],
        }
    )

    frame = read.series_for_keys(known_lake, keys=keys, start=minute(50), end=minute(70), period_seconds=600)

    web = frame[(frame["resource_id"] == "i-web") & (frame["statistic"] == "Average")]
    assert web["ts"].tolist() == [pd.Timestamp(minute(50)), pd.Timestamp(minute(60))]
    assert web["value"].tolist() == [10.0, 50.0]
    assert set(frame["statistic"]) == {"Average", "Maximum"}
    assert len(frame) == 6  # three series x two 10-minute periods


@pytest.mark.parametrize("pushed_resources", [200, 0], ids=["few keys: pushed filters", "many: semi join"])
def test_only_the_asked_series_come_back_however_the_keys_are_matched(
    known_lake: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, pushed_resources: int
) -> None:
    monkeypatch.setattr(read, "PUSHED_RESOURCES", pushed_resources)
    # Per column every value is asked for, but (i-batch, Maximum) and (i-web, Average) are not.
    keys = pd.DataFrame(
        {
            "resource_id": ["i-web", "i-batch"],
            "metric_name": ["CPUUtilization"] * 2,
            "statistic": ["Maximum", "Average"],
        }
    )

    frame = read.series_for_keys(
        known_lake, keys=keys, start=T0, end=minute(120), resolution=Resolution.MINUTE
    )
    percentiles = read.period_percentiles(
        known_lake, keys=keys, start=T0, end=minute(120), period_seconds=3600
    )
    nothing = read.series_for_keys(known_lake, keys=keys.iloc[:0], start=T0, end=minute(120))

    asked = {("i-web", "Maximum"), ("i-batch", "Average")}
    assert set(zip(frame["resource_id"], frame["statistic"], strict=True)) == asked
    assert len(frame) == 240
    assert set(zip(percentiles["resource_id"], percentiles["statistic"], strict=True)) == asked
    assert nothing.empty


def test_latest_values_and_fleet_top_n(known_lake: duckdb.DuckDBPyConnection) -> None:
    latest = read.latest_values(known_lake, metric_name="CPUUtilization", statistic="Average")
    assert latest.set_index("resource_id")["value"].to_dict() == {"i-batch": 1.0, "i-web": 50.0}
    assert latest["ts"].max() == pd.Timestamp(minute(119))

    top = read.top_resources(
        known_lake, metric_name="CPUUtilization", statistic="Average", start=T0, end=minute(120), limit=1
    )
    assert top[["resource_id", "name", "value", "peak", "rank"]].to_dict("records") == [
        {"resource_id": "i-web", "name": "web", "value": 30.0, "peak": 50.0, "rank": 1}
    ]
    idle = read.top_resources(
        known_lake, metric_name="CPUUtilization", statistic="Average", start=T0, end=minute(120), lowest=True
    )
    assert idle["resource_id"].tolist() == ["i-batch", "i-web"]


def test_events_for_a_resource_or_a_range_newest_first(known_lake: duckdb.DuckDBPyConnection) -> None:
    assert read.events(known_lake, resource_ids=["i-web"])["message"].tolist() == ["stopped", "found"]
    ranged = read.events(known_lake, start=minute(1), end=minute(60))
    assert ranged["message"].tolist() == ["stopped", "found"]
    assert ranged["resource_id"].tolist() == ["i-web", "i-batch"]
    assert read.events(known_lake, event_types=["state_changed"])["severity"].tolist() == ["warning"]


def test_freshness_counts_and_newest_point(known_lake: duckdb.DuckDBPyConnection) -> None:
    fresh = read.freshness(known_lake, now=minute(125), since=T0)
    assert fresh.to_dict("records") == [
        {"region": "eu-west-1", "newest": pd.Timestamp(minute(119)), "lag_seconds": 360.0, "series": 1},
        {"region": "us-east-1", "newest": pd.Timestamp(minute(119)), "lag_seconds": 360.0, "series": 2},
    ]
    counts = read.table_counts(known_lake)
    assert (counts["resources"], counts["metrics"], counts["events"], counts["metrics_1h"]) == (3, 360, 3, 6)
    assert read.newest_point(known_lake) == minute(119)


def test_pick_resolution_by_time_span() -> None:
    assert read.pick_resolution(T0, T0 + timedelta(hours=6)) is Resolution.MINUTE
    assert read.pick_resolution(T0, T0 + timedelta(days=7)) is Resolution.FIVE_MINUTES  # 2,016 points
    assert read.pick_resolution(T0, T0 + timedelta(days=30)) is Resolution.HOUR  # the 30-day chart
    assert read.pick_resolution(T0, T0 + timedelta(days=365)) is Resolution.DAY


def test_reads_never_write_and_a_reader_cannot(
    settings: Settings, known_lake: duckdb.DuckDBPyConnection, lake: duckdb.DuckDBPyConnection
) -> None:
    before = snapshot_count(lake)
    read.inventory(known_lake)
    read.series(
        known_lake,
        resource_ids=["i-web"],
        metric_name="CPUUtilization",
        statistic="Average",
        start=T0,
        end=minute(5),
    )
    read.table_counts(known_lake)

    assert snapshot_count(lake) == before
    with pytest.raises(duckdb.Error, match="read-only"):
        known_lake.execute("DELETE FROM metrics")


def test_a_reader_before_any_writer_gets_a_clear_error(settings: Settings) -> None:
    with pytest.raises(WarehouseNotFound, match="oaktree discover"):
        connect(settings=settings)


def test_the_lake_opens_from_plain_duckdb_as_the_readme_shows(
    known_lake: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    from oaktree.warehouse.lake import extension_file, lake_location

    location = lake_location(settings)
    with duckdb.connect() as plain:
        plain.execute(f"LOAD '{extension_file('ducklake')}'")
        plain.execute(f"LOAD '{extension_file('sqlite_scanner')}'")
        plain.execute(f"ATTACH 'ducklake:sqlite:{location.sqlite_file}' AS lake (READ_ONLY)")
        assert plain.execute("SELECT count(*) FROM lake.metrics").fetchall() == [(360,)]
