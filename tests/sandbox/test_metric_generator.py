"""The metric generator as a pure function: shapes, incident schedule, determinism, batching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oaktree import aws
from oaktree.catalogue import CATALOGUE, MetricSpec, specs_for
from oaktree.inventory import Resource, ResourceType
from sandbox.metric_generator import (
    MAX_PUT_METRIC_DATA_ENTRIES,
    IncidentSchedule,
    Role,
    SimulatedResource,
    expected_value,
    metric_entries,
    minutes_between,
    put_metric_entries,
)

START = datetime(2026, 3, 2, 9, 30, 25, tzinfo=UTC)
INCIDENTS = IncidentSchedule.around(START)
DAY = minutes_between(START - timedelta(hours=24), START)


def _spec(resource_type: ResourceType, series_name: str) -> MetricSpec:
    return next(s for s in specs_for(resource_type) if s.series_name == series_name)


def _instance(role: Role, key: str = "r/web-1") -> SimulatedResource:
    resource = Resource(
        "i-0123", "arn:aws:ec2:r:1:instance/i-0123", ResourceType.EC2_INSTANCE, "r", "web-1", "running"
    )
    return SimulatedResource(key=key, role=role, resource=resource)


def _table(role: Role) -> SimulatedResource:
    arn = "arn:aws:dynamodb:r:1:table/sessions"
    resource = Resource(arn, arn, ResourceType.DYNAMODB_TABLE, "r", "sessions", "ACTIVE")
    return SimulatedResource(key="r/sessions", role=role, resource=resource)


def _service() -> SimulatedResource:
    arn = "arn:aws:ecs:r:1:service/c/api"
    resource = Resource(arn, arn, ResourceType.ECS_SERVICE, "r", "api", "ACTIVE", cluster="c")
    return SimulatedResource(key="r/c/api", role=Role.NORMAL, resource=resource)


def _values(
    simulated: SimulatedResource, spec: MetricSpec, minutes: list[datetime], seed: int = 1
) -> list[float]:
    return [
        expected_value(seed=seed, simulated=simulated, spec=spec, minute=m, incidents=INCIDENTS)
        for m in minutes
    ]


CPU = _spec(ResourceType.EC2_INSTANCE, "CPUUtilization")


def test_incident_window_starts_20_minutes_before_start_and_repeats_every_6_hours() -> None:
    assert INCIDENTS.first_start == datetime(2026, 3, 2, 9, 10, tzinfo=UTC)
    assert INCIDENTS.active(START)
    assert INCIDENTS.active(datetime(2026, 3, 2, 9, 49, tzinfo=UTC))
    assert not INCIDENTS.active(datetime(2026, 3, 2, 9, 50, tzinfo=UTC))
    assert not INCIDENTS.active(datetime(2026, 3, 2, 9, 9, tzinfo=UTC))
    assert INCIDENTS.active(datetime(2026, 3, 2, 15, 10, tzinfo=UTC))
    assert INCIDENTS.active(datetime(2026, 3, 2, 3, 49, tzinfo=UTC))  # 6 hours earlier, during the backfill
    assert sum(INCIDENTS.active(m) for m in DAY) == 4 * 40


def test_idle_instance_stays_under_3_percent_all_day() -> None:
    values = _values(_instance(Role.IDLE), CPU, DAY)
    assert max(values) < 3.0
    assert min(values) > 0.0


def test_incident_instance_is_above_90_percent_exactly_during_incidents() -> None:
    values = dict(zip(DAY, _values(_instance(Role.INCIDENT), CPU, DAY), strict=True))
    assert all(values[m] > 90.0 for m in DAY if INCIDENTS.active(m))
    assert all(values[m] <= 85.0 for m in DAY if not INCIDENTS.active(m))


def test_normal_instance_follows_a_daily_cycle_with_noise() -> None:
    values = _values(_instance(Role.NORMAL), CPU, DAY)
    assert max(values) <= 85.0
    assert max(values) - min(values) > 15.0  # the day moves it
    assert len(set(values)) > 1000  # and every minute differs


def test_table_throttles_only_when_it_is_the_incident_table_during_an_incident() -> None:
    for series_name in ("ThrottledRequests:GetItem", "ThrottledRequests:PutItem", "ThrottledRequests:Query"):
        spec = _spec(ResourceType.DYNAMODB_TABLE, series_name)
        incident = dict(zip(DAY, _values(_table(Role.INCIDENT), spec, DAY), strict=True))
        assert all(incident[m] >= 5 for m in DAY if INCIDENTS.active(m))
        assert all(incident[m] == 0.0 for m in DAY if not INCIDENTS.active(m))
        assert set(_values(_table(Role.NORMAL), spec, DAY)) == {0.0}


def test_stopped_instance_has_no_datapoints() -> None:
    for spec in specs_for(ResourceType.EC2_INSTANCE):
        assert set(_values(_instance(Role.STOPPED), spec, DAY[:30])) == {None}


def test_every_catalogue_metric_has_finite_non_negative_values() -> None:
    resources = {
        ResourceType.EC2_INSTANCE: _instance(Role.NORMAL),
        ResourceType.ECS_SERVICE: _service(),
        ResourceType.DYNAMODB_TABLE: _table(Role.INCIDENT),
    }
    for spec in CATALOGUE:
        values = _values(resources[spec.resource_type], spec, DAY[::7])
        assert all(isinstance(v, float) and 0.0 <= v < 1e12 for v in values), spec.series_name
        if spec.unit == "Percent":
            assert max(values) <= 100.0


def test_values_depend_only_on_seed_key_metric_and_minute() -> None:
    same = _instance(Role.NORMAL, key="r/web-1")
    # Another instance id under the same plan key gives the same values: moto's ids do not drive the data.
    other_id = Resource(
        "i-9999", "arn:aws:ec2:r:1:instance/i-9999", ResourceType.EC2_INSTANCE, "r", "web-1", "running"
    )
    renamed = SimulatedResource(key="r/web-1", role=Role.NORMAL, resource=other_id)
    assert _values(same, CPU, DAY[:60]) == _values(renamed, CPU, DAY[:60])
    # Any moment inside a minute gives that minute's value.
    inside = [m + timedelta(seconds=42) for m in DAY[:60]]
    assert _values(same, CPU, inside) == _values(same, CPU, DAY[:60])
    assert _values(same, CPU, DAY[:60], seed=1) != _values(same, CPU, DAY[:60], seed=2)
    assert _values(same, CPU, DAY[:60]) != _values(_instance(Role.NORMAL, key="r/web-2"), CPU, DAY[:60])


def test_entries_are_grouped_by_namespace_with_catalogue_dimensions_and_units() -> None:
    minutes = DAY[:3]
    entries = metric_entries(
        seed=1,
        resources=[_instance(Role.NORMAL), _table(Role.INCIDENT)],
        minutes=minutes,
        incidents=INCIDENTS,
    )
    assert sorted(entries) == ["AWS/DynamoDB", "AWS/EC2"]
    assert len(entries["AWS/EC2"]) == 6 * 3
    assert len(entries["AWS/DynamoDB"]) == 7 * 3
    put_item = [
        e for e in entries["AWS/DynamoDB"] if e["Dimensions"][-1] == {"Name": "Operation", "Value": "PutItem"}
    ]
    assert {e["MetricName"] for e in put_item} == {"ThrottledRequests", "SuccessfulRequestLatency"}
    assert {e["Unit"] for e in entries["AWS/EC2"] if e["MetricName"] == "CPUUtilization"} == {"Percent"}
    assert [e["Timestamp"] for e in entries["AWS/EC2"][:3]] == minutes


@pytest.mark.usefixtures("aws")
def test_put_metric_entries_never_sends_more_than_1000_per_call() -> None:
    cloudwatch = aws.client("cloudwatch", "us-east-1")
    call_sizes: list[int] = []
    cloudwatch.meta.events.register(
        "before-parameter-build.cloudwatch.PutMetricData",
        lambda params, **_: call_sizes.append(len(params["MetricData"])),
    )
    minute = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    entries = [
        {
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "InstanceId", "Value": f"i-{n:04d}"}],
            "Timestamp": minute,
            "Value": float(n),
            "Unit": "Percent",
        }
        for n in range(2 * MAX_PUT_METRIC_DATA_ENTRIES + 500)
    ]
    written = put_metric_entries(
        cloudwatch=cloudwatch, by_namespace={"AWS/EC2": entries, "AWS/ECS": entries[:10]}
    )
    assert written == 2510
    assert call_sizes == [1000, 1000, 500, 10]


@pytest.mark.parametrize(
    "spec",
    [
        MetricSpec(ResourceType.EC2_INSTANCE, "EBSReadBytes", ("Sum",), "Bytes"),
        MetricSpec(ResourceType.EC2_INSTANCE, "MetadataNoToken", ("Sum",), "Count"),
        MetricSpec(ResourceType.ECS_SERVICE, "EphemeralStorageUtilized", ("Average",), "Gigabytes"),
        MetricSpec(
            ResourceType.DYNAMODB_TABLE, "ReturnedItemCount", ("Average",), "Count", operation="Query"
        ),
    ],
)
def test_a_metric_added_to_the_catalogue_gets_data_with_no_change_to_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, spec: MetricSpec
) -> None:
    import oaktree.catalogue

    monkeypatch.setattr(oaktree.catalogue, "CATALOGUE", (*CATALOGUE, spec))
    simulated = {
        ResourceType.EC2_INSTANCE: _instance(Role.NORMAL),
        ResourceType.DYNAMODB_TABLE: _table(Role.NORMAL),
    }.get(spec.resource_type)
    if simulated is None:
        resource = Resource("arn:svc", "arn:svc", ResourceType.ECS_SERVICE, "r", "api", "ACTIVE", cluster="c")
        simulated = SimulatedResource(key="r/api", role=Role.NORMAL, resource=resource)

    values = [
        expected_value(seed=1, simulated=simulated, spec=spec, minute=minute, incidents=INCIDENTS)
        for minute in DAY[::60]
    ]
    entries = metric_entries(seed=1, resources=[simulated], minutes=DAY[:3], incidents=INCIDENTS)

    assert all(isinstance(value, float) and value >= 0 for value in values)
    assert len(set(values)) > 1  # it moves with the daily cycle, not a constant
    added = [e for entries_ in entries.values() for e in entries_ if e["MetricName"] == spec.metric_name]
    assert len(added) == 3
    assert added[0]["Unit"] == spec.unit
