"""What the dashboard's home page summarises: fleet counts, resources in ALARM, data freshness.

Plain functions over the warehouse read side and the alert states; the page only draws them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Alert, AlertState
from oaktree.auth.roles import Permission, Principal, require
from oaktree.warehouse import read

# Collection runs every minute and re-reads the last few: a region whose newest point is older
# than this has missed runs.
STALE_AFTER = timedelta(minutes=5)
ALARM = "ALARM"


def fleet_counts(
    connection: duckdb.DuckDBPyConnection,
    *,
    regions: Sequence[str] | None = None,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return resources counted by type, region and state (columns resource_type, region, state, count)."""
    inventory = read.inventory(connection, regions=regions, account_ids=account_ids)
    if inventory.empty:
        return pd.DataFrame(columns=["resource_type", "region", "state", "count"])
    return (
        inventory.groupby(["resource_type", "region", "state"], dropna=False)
        .size()
        .reset_index(name="count")
        .sort_values(["resource_type", "region", "state"], ignore_index=True)
    )


def alarming_resources(
    *,
    session: Session,
    principal: Principal,
    regions: Sequence[str] | None = None,
    resource_ids: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Return every (rule, resource) pair in ALARM, longest first, with its rule, severity and reason.

    `resource_ids` keeps only those resources (the page passes one account's inventory: alert
    states are kept per resource, whose id already belongs to one account).
    """
    require(principal, Permission.VIEW)
    query = (
        select(AlertState, Alert.name, Alert.severity)
        .join(Alert, Alert.id == AlertState.alert_id)
        .where(AlertState.state == ALARM)
        .order_by(AlertState.since, AlertState.resource_id)
    )
    if regions:
        query = query.where(AlertState.region.in_(list(regions)))
    if resource_ids is not None:
        query = query.where(AlertState.resource_id.in_(list(resource_ids)))
    return [
        {
            "rule": name,
            "severity": severity,
            "resource_id": state.resource_id,
            "resource_type": state.resource_type,
            "region": state.region,
            "since": state.since,
            "reason": state.reason,
        }
        for state, name, severity in session.execute(query)
    ]


def data_freshness(
    connection: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    regions: Sequence[str],
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return per configured region the newest point, its lag in seconds and a status (ok, late, no data).

    Regions without any point in the last day are listed with status "no data".
    """
    found = read.freshness(connection, now=now, since=now - timedelta(days=1), account_ids=account_ids)
    rows = []
    for region in regions:
        match = found[found["region"] == region]
        if match.empty:
            rows.append(
                {"region": region, "newest": pd.NaT, "lag_seconds": None, "series": 0, "status": "no data"}
            )
            continue
        record = match.iloc[0]
        lag = float(record["lag_seconds"])
        rows.append(
            {
                "region": region,
                "newest": record["newest"],
                "lag_seconds": lag,
                "series": int(record["series"]),
                "status": "late" if lag > STALE_AFTER.total_seconds() else "ok",
            }
        )
    return pd.DataFrame(rows, columns=["region", "newest", "lag_seconds", "series", "status"])
