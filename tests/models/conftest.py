"""Model fixtures: a migrated database on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.models.database import BACKENDS, migrated_database


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Return a migrated database URL; tests using it run on SQLite and on PostgreSQL."""
    yield from migrated_database(request, tmp_path, request.param)


@pytest.fixture
def sqlite_only_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Return a migrated SQLite database URL, for checks that need only one backend."""
    yield from migrated_database(request, tmp_path, "sqlite")
