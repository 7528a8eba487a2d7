"""Rightsizing: idle, over-provisioned and steady resources give the expected findings and savings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

from oaktree.analytics import rightsizing, store
from oaktree.config import Settings, load_settings
from oaktree.discovery.store import save_inventory
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse import connect
from oaktree.warehouse.lake import LAKE, open_for_writing
from oaktree.warehouse.schema import Resolution
from sandbox.metric_generator import Role
from tests.analytics.conftest import FLEET, HISTORY, SANDBOX_START, constant_buckets

END = datetime(2026, 11, 30, tzinfo=UTC)
START = END - timedelta(days=14)
HOURS = 730


def _instance(
    resource_id: str, instance_type: str, region: str = "us-east-1", state: str = "running"
) -> Resource:
    return Resource(
        resource_id,
        f"arn:{resource_id}",
        ResourceType.EC2_INSTANCE,
        region,
        resource_id,
        state,
        instance_type=instance_type,
    )


def _service(name: str, running: int) -> Resource:
    arn = f"arn:aws:ecs:us-east-1:1:service/c/{name}"
    return Resource(
        arn,
        arn,
        ResourceType.ECS_SERVICE,
        "us-east-1",
        name,
        "ACTIVE",
        cluster="c",
        desired_count=running,
        running_count=running,
    )


def _table(name: str, mode: str, capacity: tuple[int, int] | None = None) -> Resource:
    arn = f"arn:aws:dynamodb:us-east-1:1:table/{name}"
    return Resource(
        arn,
        arn,
        ResourceType.DYNAMODB_TABLE,
        "us-east-1",
        name,
        "ACTIVE",
        capacity_mode=mode,
        read_capacity_units=capacity[0] if capacity else None,
        write_capacity_units=capacity[1] if capacity else None,
    )


INVENTORY = [
    _instance("i-idle", "t3.large"),
    _instance("i-quiet", "m5.xlarge"),
    _instance("i-busy", "m5.large"),
    _instance("i-new", "t3.large"),
    _instance("i-elsewhere", "t3.micro", region="eu-central-1"),
    _instance("i-stopped", "t3.large", state="stopped"),
    _service("quiet", running=4),
    _service("hungry", running=2),
    _table("provisioned", "PROVISIONED", (100, 50)),
    _table("steady", "ON_DEMAND"),
]


def _usage() -> pa.Table:
    def cpu(resource_id: str, value: float, **extra: object) -> pa.Table:
        return constant_buckets(resource_id, value=value, start=START, days=14, **extra)

    def ecs(name: str, cpu_value: float, memory_value: float) -> list[pa.Table]:
        arn = f"arn:aws:ecs:us-east-1:1:service/c/{name}"
        return [
            cpu(arn, cpu_value, resource_type="ecs_service"),
            cpu(arn, memory_value, resource_type="ecs_service", metric_name="MemoryUtilization"),
        ]

    def consumed(name: str, read_per_minute: float, write_per_minute: float) -> list[pa.Table]:
        arn = f"arn:aws:dynamodb:us-east-1:1:table/{name}"
        common = {"resource_type": "dynamodb_table", "statistic": "Sum"}
        return [
            cpu(arn, read_per_minute, metric_name="ConsumedReadCapacityUnits", **common),
            cpu(arn, write_per_minute, metric_name="ConsumedWriteCapacityUnits", **common),
        ]

    return pa.concat_tables(
        [
            cpu("i-idle", 1.0),
            cpu("i-quiet", 6.0),
            cpu("i-busy", 50.0),
            constant_buckets("i-new", value=1.0, start=END - timedelta(days=3), days=3),
            cpu("i-elsewhere", 1.0, region="eu-central-1"),
            *ecs("quiet", 10.0, 15.0),
            *ecs("hungry", 10.0, 40.0),
            # 10 read and 2 write units a second, every minute.
            *consumed("provisioned", 600.0, 120.0),
            *consumed("steady", 600.0, 120.0),
        ]
    )


@pytest.fixture(scope="module")
def usage_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("rightsizing-lake"))
    save_inventory(settings, INVENTORY)
    connection = open_for_writing(settings)
    try:
        connection.register("_usage", _usage())
        connection.execute(f"INSERT INTO {LAKE}.{Resolution.FIVE_MINUTES.table.name} SELECT * FROM _usage")
    finally:
        connection.close()
    return settings


@pytest.fixture
def usage_lake(usage_settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(settings=usage_settings)
    yield connection
    connection.close()


def test_recommendations_with_evidence_and_savings(usage_lake: duckdb.DuckDBPyConnection) -> None:
    found = rightsizing.recommendations(usage_lake, end=END).set_index("resource_id")

    assert sorted(found["kind"]) == sorted(
        [
            "ec2_idle",
            "ec2_downsize",
            "ec2_idle",
            "ecs_downsize",
            "dynamodb_reduce_capacity",
            "dynamodb_switch_to_provisioned",
        ]
    )
    # No recommendation for the busy instance, the new one (3 days of 14), the stopped one, the
    # service short of memory.
    assert not {"i-busy", "i-new", "i-stopped"} & set(found.index)
    assert found.loc["i-idle", "monthly_saving"] == pytest.approx(0.0832 * HOURS, abs=0.01)
    quiet = found.loc["i-quiet"]
    assert quiet["kind"] == "ec2_downsize" and "m5.large" in quiet["action"]
    assert quiet["monthly_saving"] == pytest.approx((0.192 - 0.096) * HOURS, abs=0.01)
    assert json.loads(quiet["evidence"])["cpu_p95"] == 6.0
    # A region missing from the price table is priced at us-east-1's rates, and says so.
    elsewhere = json.loads(found.loc["i-elsewhere", "evidence"])
    assert elsewhere["priced_region"] == "us-east-1"
    assert elsewhere["note"] == "eu-central-1 is not in the price table: priced at us-east-1 rates"
    assert found.loc["i-elsewhere", "monthly_saving"] == pytest.approx(0.0104 * HOURS, abs=0.01)
    service = found.loc["arn:aws:ecs:us-east-1:1:service/c/quiet"]
    task_month = (0.25 * 0.04048 + 0.5 * 0.004445) * HOURS
    assert service["monthly_cost"] == pytest.approx(4 * task_month, abs=0.01)
    assert service["monthly_saving"] == pytest.approx(2 * task_month, abs=0.01)
    provisioned = found.loc["arn:aws:dynamodb:us-east-1:1:table/provisioned"]
    needed = (15 * 0.00013 + 3 * 0.00065) * HOURS  # 10 and 2 units a second at 70 %
    assert provisioned["monthly_saving"] == pytest.approx(
        (100 * 0.00013 + 50 * 0.00065) * HOURS - needed, abs=0.01
    )
    assert "15/3" in provisioned["action"]
    steady = found.loc["arn:aws:dynamodb:us-east-1:1:table/steady"]
    on_demand = (10 * 0.125 + 2 * 0.625) * HOURS * 3600 / 1e6
    assert steady["monthly_cost"] == pytest.approx(on_demand, abs=0.01)
    assert steady["monthly_saving"] == pytest.approx(on_demand - needed, abs=0.01)
    savings = rightsizing.recommendations(usage_lake, end=END)["monthly_saving"].tolist()
    assert savings == sorted(savings, reverse=True)


def test_recommendations_replace_the_stored_ones(
    usage_settings: Settings, usage_lake: duckdb.DuckDBPyConnection
) -> None:
    found = rightsizing.recommendations(usage_lake, end=END)
    writer = open_for_writing(usage_settings)
    try:
        store.replace_recommendations(writer, found)
        store.replace_recommendations(writer, found.head(2))
        stored = writer.execute(f"SELECT resource_id FROM {LAKE}.recommendations").fetchall()
    finally:
        writer.close()

    assert sorted(row[0] for row in stored) == sorted(found.head(2)["resource_id"])


def test_smaller_instance_type_steps_down_within_the_family() -> None:
    prices = rightsizing.load_prices().for_region("us-east-1")

    assert rightsizing.smaller_instance_type("m5.2xlarge", prices) == "m5.xlarge"
    assert rightsizing.smaller_instance_type("m5.large", prices) is None  # m5 starts at large
    assert rightsizing.smaller_instance_type("t3.small", prices) == "t3.micro"


def test_the_sandbox_idle_instances_are_found(sandbox_lake: duckdb.DuckDBPyConnection) -> None:
    found = rightsizing.recommendations(sandbox_lake, end=SANDBOX_START, window=HISTORY)

    idle = {sim.resource.resource_id for sim in FLEET if sim.role is Role.IDLE}
    ec2 = found[found["resource_type"] == "ec2_instance"]
    assert set(ec2["resource_id"]) == idle  # bastion and untagged-3, nothing else
    assert set(ec2["kind"]) == {"ec2_idle"}
    assert all(json.loads(evidence)["cpu_p95"] < 3 for evidence in ec2["evidence"])
