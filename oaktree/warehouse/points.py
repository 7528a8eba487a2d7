"""Landing collected 1-minute points in the lake.

Collection re-reads a settling overlap (CloudWatch revises the last minutes) and retries
backfill windows, so the same point arrives more than once. Points are upserted on
(resource_id, metric_name, statistic, ts): the newest value wins, so the warehouse converges to
CloudWatch's settled values, and a point that did not change is not written again.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from oaktree.config import Settings
from oaktree.warehouse import lake
from oaktree.warehouse.schema import METRICS
from oaktree.warehouse.writes import upsert


class PointWriter:
    """Upserts batches of points (`schema.POINT_SCHEMA`), each in its own transaction, over one connection.

    Opening the lake costs a few hundred milliseconds (extensions, catalog), so a collection run
    keeps one writer for all its batches. Not thread-safe: one thread writes.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection: duckdb.DuckDBPyConnection | None = None

    def __call__(self, points: pa.Table) -> int:
        """Upsert `points`; return how many distinct points the batch held."""
        if points.num_rows == 0:
            return 0
        if self._connection is None:
            self._connection = lake.open_for_writing(self._settings)
        return upsert(self._connection, METRICS, points)

    def close(self) -> None:
        """Close the connection, if one was opened."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> PointWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def write_points(settings: Settings, points: pa.Table) -> int:
    """Upsert points into the lake in one transaction; return the distinct points in the batch."""
    with PointWriter(settings) as write:
        return write(points)
