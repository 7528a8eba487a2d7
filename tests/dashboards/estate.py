"""The dashboard tests' estate, shared by the AppTests and the browser tests: six resources in two
regions, a few hours of 1-minute points ending now, two events, and one user per role."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from oaktree import db
from oaktree.auth import auth_context, register_user
from oaktree.auth.roles import Principal
from oaktree.auth.users import principal_for
from oaktree.config import Settings
from oaktree.discovery.store import save_inventory
from oaktree.eventlog import warehouse_rows
from oaktree.events import Event, Severity
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse import lake
from oaktree.warehouse.points import write_points
from oaktree.warehouse.schema import EVENTS, POINT_SCHEMA
from oaktree.warehouse.writes import upsert

PASSWORD = "correct-horse-battery-7"
REGION_A, REGION_B = "us-east-1", "ap-southeast-1"
# One account per role: (username, role).
ACCOUNTS = (("root-admin", "admin"), ("ops", "operator"), ("watcher", "viewer"))

WEB = Resource(
    "i-0web",
    "arn:aws:ec2:us-east-1:123456789012:instance/i-0web",
    ResourceType.EC2_INSTANCE,
    REGION_A,
    "web-1",
    "running",
    {"env": "prod", "team": "edge"},
    instance_type="t3.small",
    vpc_id="vpc-a",
    subnet_id="subnet-a",
    availability_zone="us-east-1a",
    private_ip="10.0.0.10",
)
BATCH = Resource(
    "i-0batch",
    "arn:aws:ec2:us-east-1:123456789012:instance/i-0batch",
    ResourceType.EC2_INSTANCE,
    REGION_A,
    "batch-1",
    "stopped",
    {"env": "dev"},
    instance_type="t3.large",
    vpc_id="vpc-a",
    subnet_id="subnet-a",
)
EDGE = Resource(
    "i-0edge",
    "arn:aws:ec2:ap-southeast-1:123456789012:instance/i-0edge",
    ResourceType.EC2_INSTANCE,
    REGION_B,
    "edge-1",
    "running",
    {"env": "prod"},
    instance_type="t3.micro",
)
CLUSTER = Resource(
    "arn:aws:ecs:us-east-1:123456789012:cluster/main",
    "arn:aws:ecs:us-east-1:123456789012:cluster/main",
    ResourceType.ECS_CLUSTER,
    REGION_A,
    "main",
    "ACTIVE",
)
SERVICE = Resource(
    "arn:aws:ecs:us-east-1:123456789012:service/main/api",
    "arn:aws:ecs:us-east-1:123456789012:service/main/api",
    ResourceType.ECS_SERVICE,
    REGION_A,
    "api",
    "ACTIVE",
    {"env": "prod"},
    cluster="main",
    desired_count=2,
    running_count=2,
    launch_type="FARGATE",
)
TABLE = Resource(
    "arn:aws:dynamodb:ap-southeast-1:123456789012:table/sessions",
    "arn:aws:dynamodb:ap-southeast-1:123456789012:table/sessions",
    ResourceType.DYNAMODB_TABLE,
    REGION_B,
    "sessions",
    "ACTIVE",
    capacity_mode="PAY_PER_REQUEST",
    item_count=42,
)
ESTATE = (WEB, BATCH, EDGE, CLUSTER, SERVICE, TABLE)
HOURS_OF_POINTS = 3


def create_users(settings: Settings) -> dict[str, Principal]:
    """Register an admin, an operator and a viewer (password PASSWORD); return their principals by role."""
    ctx = auth_context(settings)
    made: dict[str, Principal] = {}
    with db.session_scope(settings=settings) as session:
        for username, role in ACCOUNTS:
            user = register_user(
                session=session,
                ctx=ctx,
                username=username,
                email=f"{username}@example.com",
                password=PASSWORD,
                role=role,
                principal=Principal.system(),
            )
            made[role] = principal_for(user)
    return made


def points_until(
    now: datetime, resource: Resource, metric: str, statistic: str, unit: str, base: float
) -> list[dict]:
    """Return 1-minute points of one series for the last HOURS_OF_POINTS hours before `now`."""
    end = now.replace(second=0, microsecond=0) - timedelta(minutes=2)
    count = HOURS_OF_POINTS * 60
    return [
        {
            "resource_id": resource.resource_id,
            "resource_type": resource.resource_type.value,
            "region": resource.region,
            "metric_name": metric,
            "statistic": statistic,
            "unit": unit,
            "ts": end - timedelta(minutes=count - index),
            "value": base + (index % 10),
        }
        for index in range(count)
    ]


def store_estate(settings: Settings, *, extra: Sequence[Resource] = ()) -> None:
    """Store the estate and `extra` resources in the inventory, recent points and two events."""
    now = datetime.now(UTC)
    save_inventory(settings, [*ESTATE, *extra])
    rows: list[dict] = []
    rows += points_until(now, WEB, "CPUUtilization", "Average", "Percent", 80)
    rows += points_until(now, WEB, "NetworkIn", "Sum", "Bytes", 1000)
    rows += points_until(now, EDGE, "CPUUtilization", "Average", "Percent", 20)
    rows += points_until(now, SERVICE, "CPUUtilization", "Average", "Percent", 40)
    rows += points_until(now, TABLE, "ConsumedReadCapacityUnits", "Sum", "Count", 5)
    write_points(settings, pa.Table.from_pylist(rows, schema=POINT_SCHEMA))
    events = [
        Event(
            WEB.resource_id,
            WEB.resource_type.value,
            WEB.region,
            "discovered",
            Severity.INFO,
            "instance web-1 discovered",
            now - timedelta(hours=2),
        ),
        Event(
            BATCH.resource_id,
            BATCH.resource_type.value,
            BATCH.region,
            "state_changed",
            Severity.WARNING,
            "instance batch-1 running -> stopped",
            now - timedelta(minutes=30),
        ),
    ]
    connection = lake.open_for_writing(settings)
    try:
        upsert(connection, EVENTS, warehouse_rows(events))
    finally:
        connection.close()
