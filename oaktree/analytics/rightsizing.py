"""Rightsizing and cost: idle or over-provisioned resources, each with its evidence and monthly saving.

The rules, over a window of history (14 days by default) of 5-minute buckets:

- EC2 (running instances): p95 CPU under 3 % is idle (stop or terminate it: the whole cost is
  saved); under 10 % the next smaller size of the family would still run under 20 % (save the
  price difference).
- ECS services: p95 of both CPU and memory under 20 %: tasks half the size would run under
  40 % (save half the Fargate cost of the running tasks).
- DynamoDB, provisioned: the busiest minute used under 30 % of the provisioned capacity:
  provision the busiest minute at 70 % utilisation instead. On demand: a load steady enough
  that capacity provisioned for its busiest minute at 70 % costs less than paying per request.

A resource needs data over at least `min_coverage` of the window: a week-old instance's quiet
week is no evidence. Prices come from `prices.yaml` (list prices by region, with their source
and date); a region it lacks is priced at its default region's rates, said in the evidence.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import duckdb
import pandas as pd
import yaml

from oaktree.warehouse.lake import cursor
from oaktree.warehouse.schema import RECOMMENDATIONS, RESOURCES, Resolution

WINDOW = timedelta(days=14)
EC2_IDLE_P95 = 3.0
EC2_DOWNSIZE_P95 = 10.0
ECS_DOWNSIZE_P95 = 20.0
DYNAMODB_UNDERUSED_SHARE = 0.3
DYNAMODB_TARGET_UTILISATION = 0.7
MIN_COVERAGE = 0.8
# An instance's size within its family, smallest first: one step down halves vCPUs and memory.
SIZES = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge")
# ECS task size when the inventory does not know it: the sandbox's (and the seed's) task definition.
DEFAULT_TASK_VCPU = 0.25
DEFAULT_TASK_MEMORY_GB = 0.5


@dataclasses.dataclass(frozen=True, slots=True)
class RegionPrices:
    """List prices of one region (USD)."""

    region: str
    ec2_hourly: dict[str, float]
    fargate: dict[str, float]
    dynamodb: dict[str, float]
    fallback: bool  # True: the table lacks the asked region and these are the default region's


@dataclasses.dataclass(frozen=True, slots=True)
class PriceTable:
    """The price table (`prices.yaml`): per region, with its date and hours in a month."""

    as_of: str
    currency: str
    hours_per_month: float
    default_region: str
    regions: dict[str, dict[str, Any]]

    def for_region(self, region: str) -> RegionPrices:
        """Return the prices of `region`, or the default region's (marked `fallback`)."""
        found = region in self.regions
        prices = self.regions[region if found else self.default_region]
        return RegionPrices(
            region=region if found else self.default_region,
            ec2_hourly=prices["ec2_hourly"],
            fargate=prices["fargate"],
            dynamodb=prices["dynamodb"],
            fallback=not found,
        )


@functools.cache
def load_prices() -> PriceTable:
    """Return the packaged price table."""
    text = resources.files("oaktree.analytics").joinpath("prices.yaml").read_text()
    document = yaml.safe_load(text)
    return PriceTable(
        as_of=str(document["as_of"]),
        currency=document["currency"],
        hours_per_month=float(document["hours_per_month"]),
        default_region=document["default_region"],
        regions=document["regions"],
    )


def smaller_instance_type(instance_type: str, prices: RegionPrices) -> str | None:
    """Return the next smaller size of the same family that has a price, or None."""
    family, _, size = instance_type.partition(".")
    if size not in SIZES:
        return None
    for smaller in reversed(SIZES[: SIZES.index(size)]):
        candidate = f"{family}.{smaller}"
        if candidate in prices.ec2_hourly:
            return candidate
    return None


def _days(window: timedelta) -> str:
    days = window / timedelta(days=1)
    return f"{days:g} day" if days == 1 else f"{days:g} days"


def _query(connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    with cursor(connection) as own:
        return own.execute(sql, params).df()


def _usage_sql(resource_type: str, metrics: dict[str, str]) -> str:
    """Return a SELECT of per-resource usage figures over the window, joined to the inventory.

    `metrics` maps an output prefix to `metric_name/statistic`; for each, the columns
    <prefix>_p95, <prefix>_mean (of bucket values), <prefix>_peak (the largest 1-minute value)
    and the window's coverage (share of its 5-minute buckets present, the best series').
    """
    table = Resolution.FIVE_MINUTES.table.name
    figures = []
    for prefix, series in metrics.items():
        metric, statistic = series.split("/")
        value = "sum" if statistic == "Sum" else "avg"
        match = f"metric_name = '{metric}' AND statistic = '{statistic}'"
        figures.append(
            f"quantile_cont({value}, 0.95) FILTER (WHERE {match}) AS {prefix}_p95, "
            f"avg({value}) FILTER (WHERE {match}) AS {prefix}_mean, "
            f"max(max) FILTER (WHERE {match}) AS {prefix}_peak, "
            f"count(*) FILTER (WHERE {match}) AS {prefix}_buckets"
        )
    buckets = " , ".join(f"{prefix}_buckets" for prefix in metrics)
    return f"""
        SELECT r.resource_id, r.resource_type, r.region, r.name, r.state, r.instance_type,
               r.running_count, r.desired_count, r.capacity_mode, r.read_capacity_units,
               r.write_capacity_units, u.*, greatest({buckets}) / $window_buckets AS coverage
        FROM {RESOURCES.name} r JOIN (
            SELECT resource_id AS usage_id, {", ".join(figures)}
            FROM {table} WHERE resource_type = '{resource_type}' AND bucket >= $start AND bucket < $end
            GROUP BY resource_id
        ) u ON u.usage_id = r.resource_id
        WHERE greatest({buckets}) / $window_buckets >= $min_coverage
        ORDER BY r.resource_id
    """


def _recommendation(
    row: Any, *, kind: str, action: str, evidence: dict[str, Any], cost: float, saving: float, end: datetime
) -> dict[str, Any]:
    return {
        "resource_id": row.resource_id,
        "resource_type": row.resource_type,
        "region": row.region,
        "name": row.name,
        "kind": kind,
        "action": action,
        "evidence": json.dumps(evidence, sort_keys=True),
        "monthly_cost": round(cost, 2),
        "monthly_saving": round(saving, 2),
        "analysed_until": end,
    }


def _price_evidence(region: str, table: PriceTable) -> dict[str, Any]:
    prices = table.for_region(region)
    evidence: dict[str, Any] = {"prices_as_of": table.as_of, "priced_region": prices.region}
    if prices.fallback:
        evidence["note"] = f"{region} is not in the price table: priced at {prices.region} rates"
    return evidence


def ec2_recommendations(
    usage: pd.DataFrame, *, table: PriceTable, end: datetime, window: timedelta
) -> list[dict[str, Any]]:
    """Return idle and downsize recommendations for running instances (rows of `_usage_sql`)."""
    found = []
    for row in usage.itertuples(index=False):
        if row.state != "running" or row.instance_type is None or pd.isna(row.cpu_p95):
            continue
        prices = table.for_region(row.region)
        hourly = prices.ec2_hourly.get(row.instance_type)
        if hourly is None:
            continue
        cost = hourly * table.hours_per_month
        evidence = {
            "cpu_p95": round(row.cpu_p95, 2),
            "cpu_mean": round(row.cpu_mean, 2),
            "cpu_peak": round(row.cpu_peak, 2),
            "days": window.days,
            "coverage": round(row.coverage, 3),
            "instance_type": row.instance_type,
            **_price_evidence(row.region, table),
        }
        if row.cpu_p95 < EC2_IDLE_P95:
            action = f"Idle: p95 CPU {row.cpu_p95:.1f} % over {_days(window)}; stop or terminate it."
            found.append(
                _recommendation(
                    row, kind="ec2_idle", action=action, evidence=evidence, cost=cost, saving=cost, end=end
                )
            )
        elif row.cpu_p95 < EC2_DOWNSIZE_P95:
            smaller = smaller_instance_type(row.instance_type, prices)
            if smaller is None:
                continue
            saving = (hourly - prices.ec2_hourly[smaller]) * table.hours_per_month
            action = (
                f"Downsize {row.instance_type} to {smaller}: p95 CPU {row.cpu_p95:.1f} % over "
                f"{_days(window)} would be about {2 * row.cpu_p95:.0f} % on half the vCPUs."
            )
            found.append(
                _recommendation(
                    row,
                    kind="ec2_downsize",
                    action=action,
                    evidence={**evidence, "suggested_type": smaller},
                    cost=cost,
                    saving=saving,
                    end=end,
                )
            )
    return found


def ecs_recommendations(
    usage: pd.DataFrame, *, table: PriceTable, end: datetime, window: timedelta
) -> list[dict[str, Any]]:
    """Return downsize recommendations for ECS services using under 20 % of CPU and memory."""
    found = []
    for row in usage.itertuples(index=False):
        if pd.isna(row.cpu_p95) or pd.isna(row.memory_p95):
            continue
        if row.cpu_p95 >= ECS_DOWNSIZE_P95 or row.memory_p95 >= ECS_DOWNSIZE_P95:
            continue
        prices = table.for_region(row.region)
        tasks = int(row.running_count if not pd.isna(row.running_count) else row.desired_count or 0)
        task_hourly = (
            DEFAULT_TASK_VCPU * prices.fargate["vcpu_hour"]
            + DEFAULT_TASK_MEMORY_GB * prices.fargate["gb_hour"]
        )
        cost = tasks * task_hourly * table.hours_per_month
        action = (
            f"Halve the task size: p95 CPU {row.cpu_p95:.1f} % and memory {row.memory_p95:.1f} % "
            f"over {_days(window)} ({tasks} tasks)."
        )
        evidence = {
            "cpu_p95": round(row.cpu_p95, 2),
            "memory_p95": round(row.memory_p95, 2),
            "running_tasks": tasks,
            "task_size_assumed": f"{DEFAULT_TASK_VCPU} vCPU, {DEFAULT_TASK_MEMORY_GB} GB (Fargate)",
            "days": window.days,
            "coverage": round(row.coverage, 3),
            **_price_evidence(row.region, table),
        }
        found.append(
            _recommendation(
                row,
                kind="ecs_downsize",
                action=action,
                evidence=evidence,
                cost=cost,
                saving=cost / 2,
                end=end,
            )
        )
    return found


def _per_second(row: Any, prefix: str) -> tuple[float, float]:
    """Return (mean, busiest minute) consumed capacity units per second of one direction."""
    mean_per_bucket = getattr(row, f"{prefix}_mean")
    peak_per_minute = getattr(row, f"{prefix}_peak")
    if pd.isna(mean_per_bucket):
        return 0.0, 0.0
    bucket_seconds = Resolution.FIVE_MINUTES.width.total_seconds()
    return float(mean_per_bucket) / bucket_seconds, float(peak_per_minute) / 60


def dynamodb_recommendations(
    usage: pd.DataFrame, *, table: PriceTable, end: datetime, window: timedelta
) -> list[dict[str, Any]]:
    """Return capacity recommendations for DynamoDB tables: provisioned far above use, or steady on demand."""
    found = []
    hours = table.hours_per_month
    for row in usage.itertuples(index=False):
        prices = table.for_region(row.region).dynamodb
        read_mean, read_peak = _per_second(row, "read")
        write_mean, write_peak = _per_second(row, "write")
        # Capacity that carries the busiest minute at the target utilisation.
        read_needed = max(1, math.ceil(read_peak / DYNAMODB_TARGET_UTILISATION))
        write_needed = max(1, math.ceil(write_peak / DYNAMODB_TARGET_UTILISATION))
        evidence = {
            "read_units_per_second_mean": round(read_mean, 2),
            "read_units_per_second_peak": round(read_peak, 2),
            "write_units_per_second_mean": round(write_mean, 2),
            "write_units_per_second_peak": round(write_peak, 2),
            "days": window.days,
            "coverage": round(row.coverage, 3),
            **_price_evidence(row.region, table),
        }
        provisioned_cost_needed = (
            read_needed * prices["rcu_hour"] + write_needed * prices["wcu_hour"]
        ) * hours
        if row.capacity_mode == "PROVISIONED" and not pd.isna(row.read_capacity_units):
            read_units, write_units = int(row.read_capacity_units), int(row.write_capacity_units)
            cost = (read_units * prices["rcu_hour"] + write_units * prices["wcu_hour"]) * hours
            underused = (
                read_peak < DYNAMODB_UNDERUSED_SHARE * read_units
                and write_peak < DYNAMODB_UNDERUSED_SHARE * write_units
            )
            if not underused or provisioned_cost_needed >= cost:
                continue
            action = (
                f"Lower provisioned capacity from {read_units}/{write_units} to {read_needed}/{write_needed} "
                f"RCU/WCU: the busiest minute used {read_peak:.1f}/{write_peak:.1f} units a second."
            )
            found.append(
                _recommendation(
                    row,
                    kind="dynamodb_reduce_capacity",
                    action=action,
                    evidence={**evidence, "provisioned": [read_units, write_units]},
                    cost=cost,
                    saving=cost - provisioned_cost_needed,
                    end=end,
                )
            )
        elif row.capacity_mode in {"ON_DEMAND", "PAY_PER_REQUEST"}:
            seconds = hours * 3600
            cost = (
                read_mean * seconds * prices["read_request_million"]
                + write_mean * seconds * prices["write_request_million"]
            ) / 1e6
            if provisioned_cost_needed >= cost:
                continue
            action = (
                f"Switch to provisioned capacity {read_needed}/{write_needed} RCU/WCU: the load is steady "
                f"(busiest minute {read_peak:.1f}/{write_peak:.1f} units a second, "
                f"mean {read_mean:.1f}/{write_mean:.1f})."
            )
            found.append(
                _recommendation(
                    row,
                    kind="dynamodb_switch_to_provisioned",
                    action=action,
                    evidence={**evidence, "suggested_provisioned": [read_needed, write_needed]},
                    cost=cost,
                    saving=cost - provisioned_cost_needed,
                    end=end,
                )
            )
    return found


_RULES: tuple[tuple[str, dict[str, str], Callable[..., list[dict[str, Any]]]], ...] = (
    ("ec2_instance", {"cpu": "CPUUtilization/Average"}, ec2_recommendations),
    (
        "ecs_service",
        {"cpu": "CPUUtilization/Average", "memory": "MemoryUtilization/Average"},
        ecs_recommendations,
    ),
    (
        "dynamodb_table",
        {"read": "ConsumedReadCapacityUnits/Sum", "write": "ConsumedWriteCapacityUnits/Sum"},
        dynamodb_recommendations,
    ),
)


def recommendations(
    connection: duckdb.DuckDBPyConnection,
    *,
    end: datetime,
    window: timedelta = WINDOW,
    min_coverage: float = MIN_COVERAGE,
    prices: PriceTable | None = None,
) -> pd.DataFrame:
    """Return every recommendation over `window` before `end`, largest monthly saving first.

    Columns: those of the `recommendations` table: resource_id, resource_type, region, name,
    kind, action, evidence (JSON text), monthly_cost, monthly_saving (USD), analysed_until.
    """
    table = prices or load_prices()
    params = {
        "start": end - window,
        "end": end,
        "window_buckets": window / Resolution.FIVE_MINUTES.width,
        "min_coverage": min_coverage,
    }
    found: list[dict[str, Any]] = []
    for resource_type, metrics, rule in _RULES:
        usage = _query(connection, _usage_sql(resource_type, metrics), params)
        found.extend(rule(usage, table=table, end=end, window=window))
    frame = pd.DataFrame(found, columns=RECOMMENDATIONS.column_names)
    return frame.sort_values(["monthly_saving", "resource_id"], ascending=[False, True], ignore_index=True)
