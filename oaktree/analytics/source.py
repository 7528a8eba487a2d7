"""The one SELECT every analysis starts from: one metric's values across the fleet at one resolution."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from oaktree.warehouse.read import bucket_value_sql, in_list
from oaktree.warehouse.schema import Resolution


def metric_values_sql(
    resolution: Resolution,
    params: dict[str, Any],
    *,
    metric_name: str,
    statistic: str,
    start: datetime,
    end: datetime,
    resource_ids: Sequence[str] | None = None,
    resource_types: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    account_ids: Sequence[str] | None = None,
) -> str:
    """Return a SELECT of resource_id, resource_type, region, ts, value for one metric in `start`..`end`.

    A rollup bucket's value is the column that means the statistic (`read.bucket_value_sql`), so
    every analysis reads Sum metrics as sums and Average metrics as means. Adds its parameters
    to `params`; `end` is exclusive. `account_ids` keeps the points collected from those AWS accounts.
    """
    table, time_column = resolution.table, resolution.time_column
    value = "t.value" if resolution is Resolution.MINUTE else bucket_value_sql("t")
    params.update({"metric": metric_name, "statistic": statistic, "start": start, "end": end})
    filters = [
        "t.metric_name = $metric",
        "t.statistic = $statistic",
        f"t.{time_column} >= $start AND t.{time_column} < $end",
        in_list("t.resource_id", "ids", resource_ids, params),
        in_list("t.resource_type", "types", resource_types, params),
        in_list("t.region", "regions", regions, params),
        in_list("t.account_id", "accounts", account_ids, params),
    ]
    return (
        f"SELECT t.resource_id, t.resource_type, t.region, t.{time_column} AS ts, {value} AS value "
        f"FROM {table.name} t WHERE {' AND '.join(filters)}"
    )
