"""The sandbox fleet's metric history computed directly, without a moto server or CloudWatch.

`metric_generator.expected_value` is a pure function of the seed, the plan, the metric, the
minute and the incident schedule, so weeks of the history the sandbox would have written can be
computed in seconds and landed in a lake as 1-minute points. Analytics tests and benchmarks use
this to check findings against what the sandbox is known to do (its idle instances, its
recurring incident) over more history than a running sandbox ever accumulates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

import pyarrow as pa

from oaktree.catalogue import specs_for
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse.schema import POINT_SCHEMA
from sandbox.fleet import plan_fleet
from sandbox.metric_generator import (
    IncidentSchedule,
    Role,
    SimulatedResource,
    expected_value,
    minutes_between,
)

SANDBOX_ACCOUNT = "123456789012"


def _instance_id(key: str) -> str:
    return "i-" + hashlib.blake2b(key.encode(), digest_size=9).hexdigest()[:17]


def planned_resources(
    *, seed: int, region: str, account_id: str = SANDBOX_ACCOUNT
) -> list[SimulatedResource]:
    """Return one region's planned fleet as simulated resources with made-up but stable ids.

    The same resources `create_region_fleet` creates (names, roles, instance types, capacity
    modes), with ids derived from their plan keys instead of assigned by moto.
    """
    plan = plan_fleet(seed=seed, region=region)
    simulated = []
    for instance in plan.instances:
        key = f"{region}/{instance.name}"
        instance_id = _instance_id(key)
        resource = Resource(
            resource_id=instance_id,
            arn=f"arn:aws:ec2:{region}:{account_id}:instance/{instance_id}",
            resource_type=ResourceType.EC2_INSTANCE,
            region=region,
            name=instance.tags.get("Name", instance_id),
            state="stopped" if instance.role is Role.STOPPED else "running",
            tags=dict(instance.tags),
            instance_type=instance.instance_type,
            account_id=account_id,
        )
        simulated.append(SimulatedResource(key=key, role=instance.role, resource=resource))
    for service in plan.services:
        arn = f"arn:aws:ecs:{region}:{account_id}:service/{service.cluster}/{service.name}"
        resource = Resource(
            resource_id=arn,
            arn=arn,
            resource_type=ResourceType.ECS_SERVICE,
            region=region,
            name=service.name,
            state="ACTIVE",
            cluster=service.cluster,
            desired_count=service.desired_count,
            running_count=service.running_count,
            launch_type="FARGATE",
            account_id=account_id,
        )
        key = f"{region}/{service.cluster}/{service.name}"
        simulated.append(SimulatedResource(key=key, role=Role.NORMAL, resource=resource))
    for table in plan.tables:
        arn = f"arn:aws:dynamodb:{region}:{account_id}:table/{table.name}"
        resource = Resource(
            resource_id=arn,
            arn=arn,
            resource_type=ResourceType.DYNAMODB_TABLE,
            region=region,
            name=table.name,
            state="ACTIVE",
            capacity_mode="PROVISIONED" if table.provisioned else "ON_DEMAND",
            item_count=table.item_count,
            read_capacity_units=table.provisioned[0] if table.provisioned else None,
            write_capacity_units=table.provisioned[1] if table.provisioned else None,
            account_id=account_id,
        )
        simulated.append(SimulatedResource(key=f"{region}/{table.name}", role=table.role, resource=resource))
    return simulated


def history_points(
    *,
    seed: int,
    resources: Iterable[SimulatedResource],
    start: datetime,
    end: datetime,
    incidents: IncidentSchedule,
    metric_names: Iterable[str] | None = None,
) -> pa.Table:
    """Return the 1-minute points the sandbox writes for these resources over `start`..`end` (POINT_SCHEMA).

    `metric_names` limits the series to those stored names (e.g. `ThrottledRequests:PutItem`).
    """
    wanted = set(metric_names) if metric_names is not None else None
    minutes = minutes_between(start, end)
    columns: dict[str, list] = {name: [] for name in POINT_SCHEMA.names}
    for simulated in resources:
        resource = simulated.resource
        for spec in specs_for(resource.resource_type):
            if wanted is not None and spec.series_name not in wanted:
                continue
            for minute in minutes:
                value = expected_value(
                    seed=seed, simulated=simulated, spec=spec, minute=minute, incidents=incidents
                )
                if value is None:
                    continue
                # One value per minute: CloudWatch's Average and Maximum of it are the same.
                for statistic in spec.statistics:
                    columns["resource_id"].append(resource.resource_id)
                    columns["resource_type"].append(resource.resource_type.value)
                    columns["region"].append(resource.region)
                    columns["metric_name"].append(spec.series_name)
                    columns["statistic"].append(statistic)
                    columns["unit"].append(spec.unit)
                    columns["ts"].append(minute)
                    columns["value"].append(value)
                    columns["account_id"].append(resource.account_id)
    return pa.Table.from_pydict(columns, schema=POINT_SCHEMA)


def incident_minutes(incidents: IncidentSchedule, start: datetime, end: datetime) -> list[datetime]:
    """Return the minutes of `start`..`end` during which the sandbox's incident is in progress."""
    return [minute for minute in minutes_between(start, end) if incidents.active(minute)]
