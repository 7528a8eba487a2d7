"""How the warehouse writes files: new immutable versions under a lock, old ones deleted late.

A partition is rewritten as a new version file (written to a temporary name, then renamed to a
name no reader has seen), never in place: DuckDB reopens a file by path while it scans, so a
file replaced under a running query would mix two files. A superseded version stays for
`SUPERSEDED_GRACE` and is deleted by the rollup run (every few minutes), not by every write:
each deletion can still fail a query that listed the file just before and opens it just after
(DuckDB lists files when it binds and opens them as it scans), so deletions are kept rare.
Temporary names end in `.tmp`, so the views' `*.parquet` globs never pick them up.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from oaktree.warehouse import layout
from oaktree.warehouse.layout import Partition

# Locks are striped: a partition maps to one of a fixed set of lock files, so lock files never
# pile up as partitions come and go. Two partitions sharing a stripe only wait for each other.
LOCK_STRIPES = 64

# How long a superseded version outlives its successor: longer than any reasonable query.
SUPERSEDED_GRACE = timedelta(minutes=10)

# zstd keeps the files small; the row groups are sized for DuckDB's parallel scans.
_PARQUET_OPTIONS = {"compression": "zstd", "row_group_size": 122_880}


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` (created if missing) for the duration of the block.

    flock, not fcntl record locks: a flock belongs to one open file description, so two threads
    of one process exclude each other too (Prefect runs tasks in threads).
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def partition_lock(warehouse_dir: Path, path: Path) -> contextlib.AbstractContextManager[None]:
    """Return the lock guarding every new version or deletion of one partition (or file)."""
    relative = path.resolve().relative_to(warehouse_dir.resolve()).as_posix()
    stripe = int.from_bytes(hashlib.blake2b(relative.encode(), digest_size=4).digest()) % LOCK_STRIPES
    return locked(layout.lock_dir(warehouse_dir) / f"partition-{stripe:02d}.lock")


def _temporary_file(directory: Path, name: str) -> str:
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    except FileNotFoundError:
        # Retention may have removed the (then empty) folder between our mkdir and now.
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    return tmp_name


def replace_parquet(table: pa.Table, path: Path) -> None:
    """Write `table` to `path` atomically: a reader sees the previous file or this one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = _temporary_file(path.parent, path.name)
    try:
        pq.write_table(table, tmp_name, **_PARQUET_OPTIONS)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_version(table: pa.Table, directory: Path) -> Path:
    """Write `table` as the folder's newest version; return its path (call under the folder's lock)."""
    directory.mkdir(parents=True, exist_ok=True)
    newest = layout.newest_version(directory)
    # Later than every existing version even if the clock stepped back: newest must stay newest.
    written_ns = max(time.time_ns(), layout.version_ns(newest) + 1 if newest else 0)
    path = directory / layout.version_name(written_ns)
    tmp_name = _temporary_file(directory, path.name)
    try:
        pq.write_table(table, tmp_name, **_PARQUET_OPTIONS)
        os.replace(tmp_name, path)  # a fresh name: no reader can have it open
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def write_merged_version(
    connection: duckdb.DuckDBPyConnection,
    warehouse_dir: Path,
    partition: Partition,
    *,
    merge_sql: str,
    stored_sql: str,
    params: dict[str, object],
    schema: pa.Schema,
) -> pa.Table:
    """Merge new rows with the partition's newest version and write the result as a new version.

    `merge_sql` has a `{stored}` slot that takes `stored_sql` (reading `$stored`, the newest
    version) when the partition has one. Runs under the partition's lock, so two writers of one
    partition never lose each other's rows. Returns the merged table.
    """
    with partition_lock(warehouse_dir, partition.directory):
        stored = ""
        newest = partition.newest()
        if newest is not None:
            params = {**params, "stored": str(newest)}
            stored = stored_sql
        merged = connection.sql(merge_sql.format(stored=stored), params=params).to_arrow_table()
        write_version(merged.cast(schema), partition.directory)
    return merged


def prune_superseded(directory: Path, *, now_ns: int | None = None) -> int:
    """Delete a folder's versions superseded longer than SUPERSEDED_GRACE ago; return how many."""
    now_ns = now_ns if now_ns is not None else time.time_ns()
    grace_ns = int(SUPERSEDED_GRACE.total_seconds() * 1e9)
    versions = layout.versions_in(directory)
    deleted = 0
    # A version was superseded when the next one was written.
    for version, successor in itertools.pairwise(versions):
        if layout.version_ns(successor) <= now_ns - grace_ns:
            version.unlink(missing_ok=True)
            deleted += 1
    return deleted


def remove_empty_dirs(root: Path) -> int:
    """Remove empty folders below `root` (not `root` itself); return how many were removed."""
    removed = 0
    if not root.is_dir():
        return 0
    directories = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for directory in directories:  # deepest first, so a folder emptied by its children goes too
        with contextlib.suppress(OSError):  # not empty (or refilled meanwhile): keep it
            directory.rmdir()
            removed += 1
    return removed
