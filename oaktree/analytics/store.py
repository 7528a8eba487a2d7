"""Writing analytics findings to the warehouse: anomalies and forecasts upserted, recommendations replaced.

Anomalies and forecasts are upserted on their keys, so re-running a day's analysis leaves one
row per point. Recommendations describe the fleet as it is now: each run replaces them whole,
so a resource that was fixed drops out.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from oaktree.warehouse.schema import ANOMALIES, FORECASTS, RECOMMENDATIONS, Table
from oaktree.warehouse.writes import replace_all, upsert


def _rows(table: Table, frame: pd.DataFrame) -> pa.Table:
    """Return the table's columns of `frame` as Arrow rows of `table`."""
    return pa.Table.from_pandas(frame[table.column_names], preserve_index=False)


def save_anomalies(connection: duckdb.DuckDBPyConnection, anomalies: pd.DataFrame) -> int:
    """Upsert anomalous points (`anomalies.find_anomalies` rows); return how many keys were written."""
    if anomalies.empty:
        return 0
    return upsert(connection, ANOMALIES, _rows(ANOMALIES, anomalies))


def save_forecasts(connection: duckdb.DuckDBPyConnection, forecasts: pd.DataFrame) -> int:
    """Upsert forecast rows (`forecasts.forecast_fleet` rows); return how many keys were written."""
    if forecasts.empty:
        return 0
    return upsert(connection, FORECASTS, _rows(FORECASTS, forecasts))


def replace_recommendations(connection: duckdb.DuckDBPyConnection, recommendations: pd.DataFrame) -> int:
    """Replace the stored recommendations with these (`rightsizing` rows); return the count."""
    if recommendations.empty:
        return replace_all(connection, RECOMMENDATIONS, RECOMMENDATIONS.arrow_schema().empty_table())
    return replace_all(connection, RECOMMENDATIONS, _rows(RECOMMENDATIONS, recommendations))
