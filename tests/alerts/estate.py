"""A small known estate for alert tests: an inventory and hand-written 1-minute points in the lake."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from oaktree.config import Settings
from oaktree.discovery.store import save_inventory
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse.points import write_points
from oaktree.warehouse.schema import POINT_SCHEMA

T0 = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
# `hot_web` writes 12:00-12:09; with the default 120 s settling, a pass at NOW evaluates up to 12:10.
NOW = T0 + 12 * MINUTE

WEB = Resource(
    "i-web", "arn:i-web", ResourceType.EC2_INSTANCE, "us-east-1", "web", "running", {"env": "prod"}
)
API = Resource(
    "i-api", "arn:i-api", ResourceType.EC2_INSTANCE, "us-east-1", "api", "running", {"env": "prod"}
)
DEV = Resource("i-dev", "arn:i-dev", ResourceType.EC2_INSTANCE, "us-east-1", "dev", "running", {"env": "dev"})
FAR = Resource(
    "i-far", "arn:i-far", ResourceType.EC2_INSTANCE, "eu-west-1", "far", "running", {"env": "prod"}
)
TABLE = Resource(
    "arn:aws:dynamodb:us-east-1:123456789012:table/sessions",
    "arn:aws:dynamodb:us-east-1:123456789012:table/sessions",
    ResourceType.DYNAMODB_TABLE,
    "us-east-1",
    "sessions",
    "ACTIVE",
)
ESTATE = (WEB, API, DEV, FAR, TABLE)


def save_estate(settings: Settings, resources: Sequence[Resource] = ESTATE) -> None:
    """Store the inventory."""
    save_inventory(settings, list(resources))


def minute_points(
    resource: Resource,
    values: Sequence[float | None],
    *,
    start: datetime = T0,
    metric_name: str = "CPUUtilization",
    statistic: str = "Average",
    unit: str = "Percent",
) -> pa.Table:
    """Return one series of 1-minute points from `start` (None leaves that minute missing)."""
    rows = [
        {
            "resource_id": resource.resource_id,
            "resource_type": resource.resource_type.value,
            "region": resource.region,
            "metric_name": metric_name,
            "statistic": statistic,
            "unit": unit,
            "ts": start + MINUTE * index,
            "value": float(value),
        }
        for index, value in enumerate(values)
        if value is not None
    ]
    return pa.Table.from_pylist(rows, schema=POINT_SCHEMA)


def write(settings: Settings, *tables: pa.Table) -> None:
    """Upsert points into the lake."""
    write_points(settings, pa.concat_tables(tables))


def cpu_rule(**overrides: object) -> dict[str, object]:
    """Return a draft rule on the prod EC2 fleet's CPU (1-minute periods, 2 of 3) with overrides."""
    draft: dict[str, object] = {
        "name": "high-cpu",
        "resource_type": "ec2_instance",
        "selector": {"region": "us-east-1", "tags": {"env": "prod"}},
        "metric_name": "CPUUtilization",
        "statistic": "Average",
        "period": 60,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
        "threshold": 90,
        "comparison_operator": "GreaterThanThreshold",
        "severity": "critical",
    }
    draft.update(overrides)
    return draft


def hot_web(settings: Settings) -> None:
    """Store the estate: WEB's CPU hot for its last 3 minutes, API calm.

    DEV (env dev) and FAR (eu-west-1) run hot too, outside `cpu_rule`'s prod us-east-1 selector.
    """
    save_estate(settings)
    write(
        settings,
        minute_points(WEB, [50] * 7 + [95] * 3),
        minute_points(API, [50] * 10),
        minute_points(DEV, [99] * 10),
        minute_points(FAR, [99] * 10),
    )
