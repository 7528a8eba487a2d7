"""Writing the lake: one transaction per batch, retried on commit conflicts; upserts on each table's key.

DuckLake commits are optimistic. Two commits that only insert into a table are merged by
DuckLake itself, which is wrong for upserts: two writers inserting the same new keys would both
succeed. So every write that changes a table also replaces the one row of that table's version
table (`bump_version`); DuckLake refuses the later of two such commits, and the whole batch is
redone from the start on a fresh snapshot, where the other's rows are visible. No batch is lost
and none is applied twice. A SQLite catalog adds
"database is locked" when two processes commit at the same instant: retried the same way.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import TypeVar

import duckdb
import pyarrow as pa

from oaktree.logs import get_logger
from oaktree.warehouse.lake import LAKE
from oaktree.warehouse.schema import Table, version_table

log = get_logger(__name__)

T = TypeVar("T")

# Attempts per transaction before the conflict is raised; with the backoff below the last
# attempt starts after about 15 s, far beyond any commit storm two or ten workers cause.
MAX_COMMIT_ATTEMPTS = 12
_BACKOFF_BASE_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 3.0

_RETRYABLE_MESSAGES = ("conflict", "database is locked", "failed to commit", "could not serialize")


def is_commit_conflict(exc: duckdb.Error) -> bool:
    """Return True for errors a retry on a fresh snapshot resolves (conflicts, a busy catalog)."""
    message = str(exc).lower()
    return isinstance(exc, duckdb.TransactionException) or any(
        text in message for text in _RETRYABLE_MESSAGES
    )


def in_transaction(
    connection: duckdb.DuckDBPyConnection,
    work: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    attempts: int = MAX_COMMIT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `work` in one transaction and commit it, redoing it on a commit conflict; return its result.

    `work` must be safe to redo: it runs again from the start on a fresh snapshot. A longer
    transaction loses more often to short ones committing meanwhile, so it may ask for more
    `attempts`.
    """
    for attempt in range(1, attempts + 1):
        connection.execute("BEGIN TRANSACTION")
        try:
            result = work(connection)
            connection.execute("COMMIT")
            return result
        except duckdb.Error as exc:
            _rollback(connection)
            if not is_commit_conflict(exc) or attempt == attempts:
                raise
            delay = random.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt))
            log.info(
                "warehouse_commit_retried", attempt=attempt, delay_s=round(delay, 3), error=str(exc)[:200]
            )
            sleep(delay)
        except BaseException:
            _rollback(connection)
            raise
    raise AssertionError("unreachable")  # the loop returns or raises


def _rollback(connection: duckdb.DuckDBPyConnection) -> None:
    # A failed COMMIT has already ended the transaction.
    with contextlib.suppress(duckdb.TransactionException):
        connection.execute("ROLLBACK")


def conform(table: Table, rows: pa.Table) -> pa.Table:
    """Return `rows` with exactly the table's columns and types; raise ValueError if it cannot."""
    schema = table.arrow_schema()
    missing = [name for name in schema.names if name not in rows.column_names]
    if missing:
        raise ValueError(f"{table.name} rows lack column(s): {', '.join(missing)}")
    columns = []
    for field in schema:
        column = rows.column(field.name)
        if not field.nullable and column.null_count:
            raise ValueError(f"{table.name} rows have {column.null_count} null value(s) in {field.name}")
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _key_match(table: Table, left: str, right: str) -> str:
    return " AND ".join(f'{left}."{name}" = {right}."{name}"' for name in table.key)


def upsert_rows(connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> int:
    """Upsert Arrow `rows` into `table` inside the caller's transaction; return the distinct keys.

    Within the batch the last row of a key wins.
    """
    incoming = conform(table, rows).append_column("_seq", pa.array(range(rows.num_rows), pa.int64()))
    connection.register("_incoming", incoming)
    try:
        return upsert_relation(connection, table, "_incoming", newest_first="_seq DESC")
    finally:
        connection.unregister("_incoming")


def upsert_relation(
    connection: duckdb.DuckDBPyConnection,
    table: Table,
    source: str,
    *,
    newest_first: str | None = None,
    in_key_order: bool = False,
) -> int:
    """Upsert the rows of the relation `source` into `table` in the caller's transaction.

    Returns the distinct keys of the source. `newest_first` orders a key's duplicates (the first
    wins); without it the source must not repeat a key. Rows identical to what is stored are left
    alone, so re-running a window writes nothing. New keys are inserted, changed ones updated
    (a MERGE costs about twice an INSERT, and most of a collection batch is new).

    `in_key_order` writes the new rows sorted by the key, so each Parquet row group holds a
    narrow range of series and a reader asking for a few resources skips the others by the row
    groups' min/max statistics. Rollups ask for it (their GROUP BY comes out in hash order);
    collection batches arrive grouped by series already, and the sort would cost ~10 % of a run.
    """
    keys = ", ".join(f'"{name}"' for name in table.key)
    columns = ", ".join(f'"{name}"' for name in table.column_names)
    batch = source
    if newest_first and _has_duplicate_keys(connection, source, keys):
        batch = "_deduplicated"
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE {batch} AS SELECT {columns} FROM {source} "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {newest_first}) = 1"
        )
    distinct = int(connection.execute(f"SELECT count(*) FROM {batch}").fetchall()[0][0])
    stored = f"{LAKE}.{table.name}"
    if table.time_column:
        # Only the batch's time range of the table is read (DuckLake skips files by their min/max).
        time_column = f'"{table.time_column}"'
        stored = (
            f"(SELECT * FROM {LAKE}.{table.name} WHERE {time_column} BETWEEN "
            f"(SELECT min({time_column}) FROM {batch}) AND (SELECT max({time_column}) FROM {batch}))"
        )
    same = " AND ".join(f's."{name}" IS NOT DISTINCT FROM b."{name}"' for name in table.column_names)
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE _changed AS SELECT {', '.join(f'b.{c}' for c in columns.split(', '))}, "  # noqa: E501
        f"NOT EXISTS (SELECT 1 FROM {stored} s WHERE {_key_match(table, 's', 'b')}) AS _new "
        f"FROM {batch} b WHERE NOT EXISTS (SELECT 1 FROM {stored} s WHERE {same})"
    )
    new, changed = connection.execute(
        "SELECT count(*) FILTER (_new), count(*) FILTER (NOT _new) FROM _changed"
    ).fetchall()[0]
    if new:
        order = f" ORDER BY {keys}" if in_key_order else ""
        connection.execute(
            f"INSERT INTO {LAKE}.{table.name} SELECT {columns} FROM _changed WHERE _new{order}"
        )
    if changed:
        connection.execute(
            f"MERGE INTO {LAKE}.{table.name} AS target "
            f"USING (SELECT {columns} FROM _changed WHERE NOT _new) AS source "
            f"ON ({_key_match(table, 'target', 'source')}) WHEN MATCHED THEN UPDATE"
        )
    if new or changed:
        bump_version(connection, table)
    connection.execute("DROP TABLE _changed")
    connection.execute("DROP TABLE IF EXISTS _deduplicated")
    return distinct


def _has_duplicate_keys(connection: duckdb.DuckDBPyConnection, source: str, keys: str) -> bool:
    """Return True if `source` repeats a key (cheaper to check than to deduplicate)."""
    rows = connection.execute(
        f"SELECT 1 FROM {source} GROUP BY {keys} HAVING count(*) > 1 LIMIT 1"
    ).fetchall()
    return bool(rows)


def bump_version(connection: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Replace the row of `table`'s version table, so a concurrent write to the table conflicts.

    DuckLake merges two commits that only insert; two upserts of the same new keys would then
    both insert them. Both also replace this one row, which DuckLake does not merge: the later
    commit fails and is redone on a snapshot that holds the other's rows.
    """
    connection.execute(f"UPDATE {LAKE}.{version_table(table)} SET version = version + 1, written_at = now()")


def upsert(connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> int:
    """Upsert `rows` into `table` in a transaction of its own; return the distinct keys written."""
    if rows.num_rows == 0:
        return 0
    return in_transaction(connection, lambda cursor: upsert_rows(cursor, table, rows))


def replace_all(connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> int:
    """Replace every row of `table` with `rows` in one transaction; return the rows written.

    For snapshot-like tables (the inventory): readers see the old set or the new one, never a mix.
    """
    conformed = conform(table, rows)

    def replace(cursor: duckdb.DuckDBPyConnection) -> int:
        cursor.register("_replacement", conformed)
        try:
            cursor.execute(f"DELETE FROM {LAKE}.{table.name}")
            cursor.execute(f"INSERT INTO {LAKE}.{table.name} SELECT * FROM _replacement")
            bump_version(cursor, table)
        finally:
            cursor.unregister("_replacement")
        return conformed.num_rows

    return in_transaction(connection, replace)
