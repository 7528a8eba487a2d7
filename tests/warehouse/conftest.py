"""Fixtures for the warehouse tests: a lake in the test's data dir, opened for writing."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from oaktree.config import Settings
from oaktree.warehouse.lake import open_for_writing


@pytest.fixture
def lake(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Return a read-write connection to a fresh lake (SQLite catalog in the test's data dir)."""
    connection = open_for_writing(settings)
    yield connection
    connection.close()


def snapshot_count(connection: duckdb.DuckDBPyConnection) -> int:
    """Return how many snapshots (commits) the lake has."""
    return int(connection.execute("SELECT count(*) FROM lake.snapshots()").fetchall()[0][0])
