"""Landing collected 1-minute points in the lake.

Collection re-reads a settling overlap (CloudWatch revises the last minutes) and retries
backfill windows, so the same point arrives more than once. `write_points` upserts a batch on
(resource_id, metric_name, statistic, ts): the newest value wins, so the warehouse converges to
CloudWatch's settled values, and a point that did not change is not written again.
"""

from __future__ import annotations

import pyarrow as pa

from oaktree.config import Settings
from oaktree.warehouse import lake
from oaktree.warehouse.schema import METRICS
from oaktree.warehouse.writes import upsert


def write_points(settings: Settings, points: pa.Table) -> int:
    """Upsert points (`schema.POINT_SCHEMA`) into the lake in one transaction; return the distinct points."""
    if points.num_rows == 0:
        return 0
    connection = lake.open_for_writing(settings)
    try:
        return upsert(connection, METRICS, points)
    finally:
        connection.close()
