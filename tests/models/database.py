"""Migrated test databases on SQLite and PostgreSQL, shared by the models and auth fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oaktree import db

# Parametrise a fixture with these to run its tests on both backends.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def migrated_database(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Iterator[str]:
    """Yield the URL of a database at the latest migration; close its pool afterwards."""
    url = (
        f"sqlite:///{tmp_path / 'oaktree-app.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    db.upgrade(url)
    yield url
    db.dispose_engines()  # before pg_url drops the database under the pool's connections
