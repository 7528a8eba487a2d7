"""Builders of small, hand-made point tables for the warehouse tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from oaktree.warehouse.schema import POINT_SCHEMA

T0 = datetime(2024, 3, 10, 0, 0, tzinfo=UTC)


def minute(n: int) -> datetime:
    """Return T0 plus n minutes."""
    return T0 + timedelta(minutes=n)


def points(
    values: Iterable[float],
    *,
    start: datetime = T0,
    resource_id: str = "i-0001",
    metric_name: str = "CPUUtilization",
    statistic: str = "Average",
    region: str = "us-east-1",
    unit: str = "Percent",
    resource_type: str = "ec2_instance",
) -> pa.Table:
    """Return one series of consecutive 1-minute points starting at `start`."""
    rows = [
        {
            "resource_id": resource_id,
            "resource_type": resource_type,
            "region": region,
            "metric_name": metric_name,
            "statistic": statistic,
            "unit": unit,
            "ts": start + timedelta(minutes=index),
            "value": float(value),
        }
        for index, value in enumerate(values)
    ]
    return pa.Table.from_pylist(rows, schema=POINT_SCHEMA)
