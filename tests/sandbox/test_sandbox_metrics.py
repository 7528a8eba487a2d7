"""CloudWatch data in a running sandbox, read back with GetMetricData as the collector does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends

from oaktree import aws
from oaktree.catalogue import CATALOGUE, MetricSpec, specs_for
from oaktree.inventory import ResourceType
from sandbox.cloudwatch_index import indexed_get_metric_data
from sandbox.metric_generator import Role, SimulatedResource, floor_minute, minutes_between
from sandbox.server import LiveMetricWriter, Sandbox
from tests.sandbox.conftest import BACKFILL_HOURS, REGIONS, START

WINDOW_END = floor_minute(START)
WINDOW_START = WINDOW_END - timedelta(hours=BACKFILL_HOURS)
BACKFILL = minutes_between(WINDOW_START, WINDOW_END)
EC2_CPU = next(s for s in specs_for(ResourceType.EC2_INSTANCE) if s.metric_name == "CPUUtilization")
PUT_THROTTLES = next(s for s in CATALOGUE if s.series_name == "ThrottledRequests:PutItem")


def _query(query_id: str, simulated: SimulatedResource, spec: MetricSpec, stat: str) -> dict[str, Any]:
    dimensions = [{"Name": k, "Value": v} for k, v in spec.dimensions(simulated.resource).items()]
    metric = {"Namespace": spec.namespace, "MetricName": spec.metric_name, "Dimensions": dimensions}
    return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}}


def _series(
    region: str, simulated: SimulatedResource, spec: MetricSpec, stat: str, start: datetime, end: datetime
) -> dict[datetime, float]:
    result = aws.client("cloudwatch", region).get_metric_data(
        MetricDataQueries=[_query("q", simulated, spec, stat)], StartTime=start, EndTime=end
    )["MetricDataResults"][0]
    return dict(zip(result["Timestamps"], result["Values"], strict=True))


def _by_role(
    sandbox: Sandbox, region: str, role: Role, resource_type: ResourceType
) -> list[SimulatedResource]:
    return [
        sim
        for sim in sandbox.fleet.regions[region].resources
        if sim.role is role and sim.resource.resource_type is resource_type
    ]


@pytest.mark.parametrize("region", REGIONS)
def test_every_series_reads_back_exactly_the_expected_values(sandbox_env: Sandbox, region: str) -> None:
    fleet = sandbox_env.fleet
    queries, expected = [], {}
    for sim in fleet.regions[region].resources:
        for spec in specs_for(sim.resource.resource_type):
            for stat in spec.statistics:
                query_id = f"q{len(queries)}"
                queries.append(_query(query_id, sim, spec, stat))
                values = {m: fleet.expected_value(sim.resource.resource_id, spec, m) for m in BACKFILL}
                expected[query_id] = {m: v for m, v in values.items() if v is not None}
    assert len(queries) <= 500  # one GetMetricData call, as the collector packs them
    results = aws.client("cloudwatch", region).get_metric_data(
        MetricDataQueries=queries, StartTime=WINDOW_START, EndTime=WINDOW_END, ScanBy="TimestampAscending"
    )["MetricDataResults"]
    assert len(results) == len(queries)
    for result in results:
        got = dict(zip(result["Timestamps"], result["Values"], strict=True))
        assert got == expected[result["Id"]], result["Id"]
    running_series = sum(1 for values in expected.values() if values)
    assert all(len(values) in (0, len(BACKFILL)) for values in expected.values())
    assert running_series == 11 * 7 + 4 * 4 + 4 * 7  # instances (CPU has 2 stats), services, tables


@pytest.mark.parametrize("region", REGIONS)
def test_stopped_instances_have_no_metrics_and_running_ones_have_all(
    sandbox_env: Sandbox, region: str
) -> None:
    fleet = sandbox_env.fleet.regions[region]
    paginator = aws.client("cloudwatch", region).get_paginator("list_metrics")

    def metric_names(instance_id: str) -> set[str]:
        pages = paginator.paginate(
            Namespace="AWS/EC2", Dimensions=[{"Name": "InstanceId", "Value": instance_id}]
        )
        return {m["MetricName"] for page in pages for m in page["Metrics"]}

    ec2_metrics = {spec.metric_name for spec in specs_for(ResourceType.EC2_INSTANCE)}
    for instance_id in fleet.stopped_instance_ids:
        assert metric_names(instance_id) == set()
    for instance_id in fleet.running_instance_ids:
        assert metric_names(instance_id) == ec2_metrics


@pytest.mark.parametrize("region", REGIONS)
def test_idle_instances_stay_under_3_percent_cpu(sandbox_env: Sandbox, region: str) -> None:
    idle = _by_role(sandbox_env, region, Role.IDLE, ResourceType.EC2_INSTANCE)
    assert len(idle) == 2
    for sim in idle:
        cpu = _series(region, sim, EC2_CPU, "Maximum", WINDOW_START, WINDOW_END)
        assert len(cpu) == len(BACKFILL)
        assert max(cpu.values()) < 3.0


@pytest.mark.parametrize("region", REGIONS)
def test_incident_is_in_progress_when_the_sandbox_starts(sandbox_env: Sandbox, region: str) -> None:
    incident_start = WINDOW_END - timedelta(minutes=20)
    [instance] = _by_role(sandbox_env, region, Role.INCIDENT, ResourceType.EC2_INSTANCE)
    assert instance.resource.resource_id == sandbox_env.fleet.regions[region].incident_instance_id
    cpu = _series(region, instance, EC2_CPU, "Maximum", WINDOW_START, WINDOW_END)
    during = [v for m, v in cpu.items() if m >= incident_start]
    before = [v for m, v in cpu.items() if m < incident_start]
    assert len(during) == 20
    assert min(during) > 90.0
    assert len(before) == len(BACKFILL) - 20
    assert max(before) < 90.0

    [table] = _by_role(sandbox_env, region, Role.INCIDENT, ResourceType.DYNAMODB_TABLE)
    assert table.resource.name == "sessions"
    throttles = _series(region, table, PUT_THROTTLES, "Sum", WINDOW_START, WINDOW_END)
    assert min(v for m, v in throttles.items() if m >= incident_start) > 0
    assert {v for m, v in throttles.items() if m < incident_start} == {0.0}
    for calm in _by_role(sandbox_env, region, Role.NORMAL, ResourceType.DYNAMODB_TABLE):
        assert set(_series(region, calm, PUT_THROTTLES, "Sum", WINDOW_START, WINDOW_END).values()) == {0.0}


def test_indexed_get_metric_data_answers_like_moto(sandbox_env: Sandbox) -> None:
    region = REGIONS[0]
    account = aws.client("sts", region).get_caller_identity()["Account"]
    backend = cloudwatch_backends[account][region]
    resources = sandbox_env.fleet.regions[region].resources
    queries = [
        _query(f"q{n}", sim, spec, stat)
        for n, (sim, spec, stat) in enumerate(
            (sim, spec, stat)
            for sim in resources[::3]
            for spec in specs_for(sim.resource.resource_type)
            for stat in ("Average", "Sum", "Maximum", "SampleCount")
        )
    ]
    no_dimensions = {"Namespace": "AWS/ECS", "MetricName": "MemoryUtilization"}
    queries.append({"Id": "all", "MetricStat": {"Metric": no_dimensions, "Period": 300, "Stat": "Average"}})
    with_unit = dict(queries[0], Id="unit")
    with_unit["MetricStat"] = dict(queries[0]["MetricStat"], Unit="Percent")
    wrong_unit = dict(queries[0], Id="wrong_unit")
    wrong_unit["MetricStat"] = dict(queries[0]["MetricStat"], Unit="Bytes")
    queries += [with_unit, wrong_unit]
    # moto holds timestamps as naive UTC, which is what its request parser hands the backend.
    end = WINDOW_END.replace(tzinfo=None)
    start = end - timedelta(minutes=17, seconds=30)
    for scan_by in ("TimestampAscending", "TimestampDescending"):
        indexed = indexed_get_metric_data(backend, queries, start, end, scan_by)
        reference = CloudWatchBackend.get_metric_data(backend, queries, start, end, scan_by)
        assert indexed == reference
    by_id = {result["id"]: result for result in indexed}
    assert len(by_id["q0"]["values"]) == 17  # periods start at StartTime (hh:mm:30): minutes 1..17
    assert len(by_id["all"]["values"]) == 4
    assert by_id["unit"]["values"] == by_id["q0"]["values"]
    assert by_id["wrong_unit"]["values"] == []


def test_live_writer_writes_each_completed_minute_once(sandbox_env: Sandbox) -> None:
    fleet = sandbox_env.fleet
    clients = {region: aws.client("cloudwatch", region) for region in REGIONS}
    writer = LiveMetricWriter(fleet=fleet, next_minute=WINDOW_END, cloudwatch_clients=clients)
    later = START + timedelta(minutes=3)  # 09:33:25: minutes 09:30, 09:31 and 09:32 are complete
    running_series = sum(
        len(specs_for(sim.resource.resource_type)) for sim in fleet.resources if sim.role is not Role.STOPPED
    )
    assert writer.write_due_minutes(later) == 3 * running_series
    assert writer.next_minute == WINDOW_END + timedelta(minutes=3)
    assert writer.write_due_minutes(later + timedelta(seconds=30)) == 0
    region = REGIONS[1]
    [instance] = _by_role(sandbox_env, region, Role.INCIDENT, ResourceType.EC2_INSTANCE)
    written = _series(region, instance, EC2_CPU, "Average", WINDOW_END, WINDOW_END + timedelta(minutes=10))
    new_minutes = minutes_between(WINDOW_END, later)
    assert written == {
        m: fleet.expected_value(instance.resource.resource_id, EC2_CPU, m) for m in new_minutes
    }
    assert min(written.values()) > 90.0  # the incident runs until 20 minutes after start
