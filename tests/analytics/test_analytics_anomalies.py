"""Anomaly detection: the sandbox's incident found, its daily cycle left alone; the labelled synthetic set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from oaktree.analytics import anomalies, store, synthetic
from oaktree.config import Settings, load_settings
from oaktree.eventlog import warehouse_rows
from oaktree.warehouse import connect, read
from oaktree.warehouse.lake import LAKE, open_for_writing
from oaktree.warehouse.schema import EVENTS
from oaktree.warehouse.writes import upsert
from sandbox.metric_generator import Role
from tests.analytics.conftest import FLEET, HISTORY, INCIDENTS, SANDBOX_START


def _id_of(role: Role, resource_type: str) -> str:
    return next(
        sim.resource.resource_id
        for sim in FLEET
        if sim.role is role and sim.resource.resource_type.value == resource_type
    )


def _incident_buckets(start: datetime, end: datetime) -> set[pd.Timestamp]:
    """Return the 5-minute buckets of start..end that hold at least one incident minute."""
    minute = timedelta(minutes=1)
    buckets = set()
    moment = start
    while moment < end:
        if INCIDENTS.active(moment):
            buckets.add(pd.Timestamp(moment.replace(minute=moment.minute - moment.minute % 5)))
        moment += minute
    return buckets


def _whole_incident_buckets(start: datetime, end: datetime) -> set[pd.Timestamp]:
    """Return the 5-minute buckets inside start..end whose five minutes are all during an incident."""
    minute, bucket = timedelta(minutes=1), timedelta(minutes=5)
    first = start + (-(start - datetime(2000, 1, 1, tzinfo=UTC)) % bucket)
    buckets = [first + i * bucket for i in range(int((end - first) / bucket))]
    return {
        pd.Timestamp(moment)
        for moment in buckets
        if all(INCIDENTS.active(moment + i * minute) for i in range(5))
    }


def _incidents_between(start: datetime, end: datetime) -> int:
    """Return how many incidents are (at least partly) inside start..end."""
    minute = timedelta(minutes=1)
    moments = [start + i * minute for i in range(int((end - start) / minute))]
    return sum(
        INCIDENTS.active(moment) and (index == 0 or not INCIDENTS.active(moments[index - 1]))
        for index, moment in enumerate(moments)
    )


def test_the_sandbox_incident_is_found_and_nothing_else(sandbox_lake: duckdb.DuckDBPyConnection) -> None:
    start = SANDBOX_START - HISTORY
    found = anomalies.find_anomalies(sandbox_lake, start=start, end=SANDBOX_START)

    incident_instance = _id_of(Role.INCIDENT, "ec2_instance")
    incident_table = _id_of(Role.INCIDENT, "dynamodb_table")
    # Only the incident instance's CPU and the incident table's throttles: no normal daily cycle,
    # no idle instance, no ECS service is flagged.
    assert set(zip(found["resource_id"], found["metric_name"], strict=True)) == {
        (incident_instance, "CPUUtilization"),
        (incident_table, "ThrottledRequests:PutItem"),
    }
    incident_buckets = _incident_buckets(start, SANDBOX_START)
    cpu = found[found["resource_id"] == incident_instance]
    assert set(cpu["ts"]) <= incident_buckets  # every anomalous point is during an incident
    assert (cpu["value"] > cpu["upper"]).all() and (cpu["score"] > 5).all()
    # Every incident is an episode of its own: 21 in five days, as the window cuts one at each end.
    episodes = anomalies.anomaly_episodes(cpu)
    assert len(episodes) == _incidents_between(start, SANDBOX_START) == 21
    assert set(episodes["direction"]) == {"above"}
    assert (episodes["peak_value"] >= 91).all()


def test_normal_resources_stay_inside_their_band_through_the_daily_cycle(
    sandbox_lake: duckdb.DuckDBPyConnection,
) -> None:
    normal = [sim.resource.resource_id for sim in FLEET if sim.role is Role.NORMAL]
    scored = anomalies.score_points(
        sandbox_lake, start=SANDBOX_START - HISTORY, end=SANDBOX_START, resource_ids=normal
    )

    cpu = scored[scored["metric_name"] == "CPUUtilization"]
    assert cpu["resource_id"].nunique() == 12  # 8 running normal instances and 4 ECS services
    assert not cpu["anomalous"].any()
    # The cycle is real: each series moves by tens of points a day, and the band follows it.
    swing = cpu.groupby("resource_id")["value"].agg(lambda values: values.max() - values.min())
    assert (swing > 15).all()
    assert ((cpu["value"] >= cpu["lower"]) & (cpu["value"] <= cpu["upper"])).all()


def test_anomalies_are_stored_idempotently_and_recorded_as_events(
    sandbox_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    start = SANDBOX_START - timedelta(days=1)
    with connect(settings=sandbox_settings) as reader:
        found = anomalies.find_anomalies(reader, start=start, end=SANDBOX_START)
    episodes = anomalies.anomaly_episodes(found)
    events = anomalies.anomaly_events(episodes)
    writer = open_for_writing(sandbox_settings)
    try:
        for _ in range(2):  # a re-run writes the same keys again
            assert store.save_anomalies(writer, found) == len(found)
            upsert(writer, EVENTS, warehouse_rows(events))
        stored = writer.execute(f"SELECT count(*) FROM {LAKE}.anomalies").fetchall()[0][0]
        anomaly_events = read.events(writer, event_types=[anomalies.ANOMALY_EVENT])
    finally:
        writer.close()

    # Two series (the instance's CPU, the table's throttles), each anomalous in every incident bucket.
    assert stored == len(found)
    for _, series in found.groupby("resource_id"):
        assert (
            _whole_incident_buckets(start, SANDBOX_START)
            <= set(series["ts"])
            <= _incident_buckets(start, SANDBOX_START)
        )
    assert len(anomaly_events) == len(episodes) == 2 * _incidents_between(start, SANDBOX_START) == 10
    first = anomaly_events.sort_values("ts").iloc[0]
    assert first["severity"] == "critical"
    assert "above its usual band" in first["message"]


def test_a_short_history_still_gets_a_baseline(sandbox_settings: Settings) -> None:
    # Six hours, as the demo's sandbox backfills: the end of one incident and the start of the
    # next are inside, each caught against the rest of its own hours.
    with connect(settings=sandbox_settings) as reader:
        found = anomalies.find_anomalies(
            reader,
            start=SANDBOX_START - timedelta(hours=6),
            end=SANDBOX_START,
            detection=anomalies.DetectionSettings(lookback=timedelta(hours=6)),
            metric_names=["CPUUtilization"],
        )

    assert set(found["resource_id"]) == {_id_of(Role.INCIDENT, "ec2_instance")}
    assert (
        len(anomalies.anomaly_episodes(found))
        == _incidents_between(SANDBOX_START - timedelta(hours=6), SANDBOX_START)
        == 2
    )


@pytest.fixture(scope="module")
def synthetic_lake(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, synthetic.LabelledFleet]]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("synthetic-lake"))
    fleet = synthetic.labelled_fleet(series=60, days=14, start=SYNTHETIC_START, seed=7)
    connection = open_for_writing(settings)
    try:
        connection.register("_buckets", fleet.buckets)
        connection.execute(f"INSERT INTO {LAKE}.metrics_5m SELECT * FROM _buckets")
    finally:
        connection.close()
    yield settings, fleet


SYNTHETIC_START = datetime(2026, 1, 5, tzinfo=UTC)


def test_synthetic_fleet_is_the_same_for_the_same_seed() -> None:
    first = synthetic.labelled_fleet(series=5, days=2, start=SYNTHETIC_START, seed=3, planted_share=1.0)
    second = synthetic.labelled_fleet(series=5, days=2, start=SYNTHETIC_START, seed=3, planted_share=1.0)

    assert first.buckets.equals(second.buckets)
    pd.testing.assert_frame_equal(first.labels, second.labels)
    assert len(first.labels) == 5 and first.buckets.num_rows == 5 * 2 * 288


def test_planted_anomalies_are_found_with_high_precision(
    synthetic_lake: tuple[Settings, synthetic.LabelledFleet],
) -> None:
    settings, fleet = synthetic_lake
    with connect(settings=settings) as reader:
        found = anomalies.find_anomalies(
            reader, start=SYNTHETIC_START, end=SYNTHETIC_START + timedelta(days=14)
        )

    scores = synthetic.detection_scores(found, fleet.labels, points_scored=fleet.buckets.num_rows)

    assert set(fleet.labels["kind"]) == {"spike", "level_shift", "drift"}
    assert scores["precision"] >= 0.99
    assert scores["episode_recall"] >= 0.95
    assert scores["recall_spike"] == scores["recall_level_shift"] == 1.0
    planted = set(fleet.labels["resource_id"])
    assert set(found["resource_id"]) <= planted  # no series without a planted anomaly is flagged


def test_the_seasonal_baseline_gives_every_hour_and_weekday_the_band_of_the_scores(
    sandbox_lake: duckdb.DuckDBPyConnection,
) -> None:
    web = next(sim.resource.resource_id for sim in FLEET if sim.resource.name == "web-1")
    keys = pd.DataFrame([{"resource_id": web, "metric_name": "CPUUtilization", "statistic": "Average"}])

    baseline = anomalies.seasonal_baseline(sandbox_lake, keys=keys, end=SANDBOX_START)
    scored = anomalies.score_points(
        sandbox_lake, start=SANDBOX_START - timedelta(hours=1), end=SANDBOX_START, resource_ids=[web]
    )

    assert len(baseline) == 7 * 24  # five days of history: every hour, and every weekday at effect 0
    assert baseline["scale"].nunique() == 1
    point = scored[scored["statistic"] == "Average"].iloc[-1]
    moment = point["ts"]
    row = baseline[(baseline["day_of_week"] == moment.day_of_week) & (baseline["hour_of_day"] == moment.hour)]
    threshold = anomalies.DEFAULT_THRESHOLD
    assert row["expected"].iloc[0] == pytest.approx(point["expected"])
    assert row["expected"].iloc[0] + threshold * row["scale"].iloc[0] == pytest.approx(point["upper"])
