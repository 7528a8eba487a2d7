"""Dashboard fixtures: a migrated PostgreSQL database with an admin, an operator and a viewer, a lake
with a small estate whose points end now, and AppTest runs signed in through the router's seam."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards.context import TEST_PRINCIPAL_KEY
from oaktree import db
from oaktree.auth import auth_context, register_user
from oaktree.auth.roles import Principal
from oaktree.auth.users import principal_for
from oaktree.config import Settings, load_settings
from oaktree.discovery.store import save_inventory
from oaktree.eventlog import warehouse_rows
from oaktree.events import Event, Severity
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse import lake
from oaktree.warehouse.points import write_points
from oaktree.warehouse.schema import EVENTS, POINT_SCHEMA
from oaktree.warehouse.writes import upsert

ROUTER = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
PASSWORD = "correct-horse-battery-7"
REGION_A, REGION_B = "us-east-1", "ap-southeast-1"

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


@pytest.fixture(autouse=True)
def fresh_streamlit_caches() -> Iterator[None]:
    """Forget cached connections and query results: they outlive one AppTest in this process."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app_settings(monkeypatch: pytest.MonkeyPatch, pg_url: str) -> Iterator[Settings]:
    """Return settings on a migrated PostgreSQL database and two regions."""
    monkeypatch.setenv("OAKTREE_DATABASE_URL", pg_url)
    monkeypatch.setenv("OAKTREE_REGIONS", f"{REGION_A},{REGION_B}")
    from oaktree import config

    config.get_settings.cache_clear()
    db.upgrade(pg_url)
    yield load_settings()
    db.dispose_engines()


@pytest.fixture
def users(app_settings: Settings) -> dict[str, Principal]:
    """Return principals of an admin, an operator and a viewer with accounts."""
    ctx = auth_context(app_settings)
    made: dict[str, Principal] = {}
    with db.session_scope(settings=app_settings) as session:
        for username, role in (("root-admin", "admin"), ("ops", "operator"), ("watcher", "viewer")):
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


@pytest.fixture
def estate(app_settings: Settings) -> Settings:
    """Store the estate's inventory, CPU and network points for the last hours, and a few events."""
    now = datetime.now(UTC)
    save_inventory(app_settings, list(ESTATE))
    rows: list[dict] = []
    rows += points_until(now, WEB, "CPUUtilization", "Average", "Percent", 80)
    rows += points_until(now, WEB, "NetworkIn", "Sum", "Bytes", 1000)
    rows += points_until(now, EDGE, "CPUUtilization", "Average", "Percent", 20)
    rows += points_until(now, SERVICE, "CPUUtilization", "Average", "Percent", 40)
    rows += points_until(now, TABLE, "ConsumedReadCapacityUnits", "Sum", "Count", 5)
    write_points(app_settings, pa.Table.from_pylist(rows, schema=POINT_SCHEMA))
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
    connection = lake.open_for_writing(app_settings)
    try:
        upsert(connection, EVENTS, warehouse_rows(events))
    finally:
        connection.close()
    return app_settings


@pytest.fixture
def open_app() -> Callable[..., AppTest]:
    """Return a function running the router as `principal` (None: signed out) on a page."""

    def run(principal: Principal | None, page: str | None = None, **query: str) -> AppTest:
        app = AppTest.from_file(ROUTER, default_timeout=60)
        if principal is not None:
            app.session_state[TEST_PRINCIPAL_KEY] = principal
        for key, value in query.items():
            app.query_params[key] = value
        if page is not None:
            app.switch_page(page)
        return app.run()

    return run
