"""The warehouse's errors, importable without loading DuckDB (the CLI maps them to one line)."""

from __future__ import annotations


class WarehouseError(Exception):
    """The warehouse cannot be used as configured; the message is one line for the operator."""


class WarehouseNotFound(WarehouseError):
    """A reader asked for a warehouse that nothing has written yet."""
