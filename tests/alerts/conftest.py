"""Alert fixtures: a migrated application database (SQLite and PostgreSQL), principals, a known estate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from oaktree import db
from oaktree.auth.roles import Principal
from oaktree.config import Settings, load_settings
from tests.alerts.estate import hot_web
from tests.models.database import BACKENDS, migrated_database

# Principals without accounts: role checks need only the roles, and the audit log keeps the name.
OPERATOR = Principal(user_id=None, username="ops", roles=("operator",))
VIEWER = Principal(user_id=None, username="watcher", roles=("viewer",))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Return a migrated database URL; tests using it run on SQLite and on PostgreSQL."""
    yield from migrated_database(request, tmp_path, request.param)


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Return a migrated SQLite database URL (for checks that need one backend)."""
    yield from migrated_database(request, tmp_path, "sqlite")


@pytest.fixture
def factory(db_url: str) -> sessionmaker[Session]:
    """Return the session factory of the parametrised database."""
    return db.session_factory(db_url)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Return a session on the parametrised database."""
    with factory() as opened:
        yield opened


@pytest.fixture
def alert_settings(monkeypatch: pytest.MonkeyPatch, db_url: str) -> Settings:
    """Return settings using the parametrised database, retrying failed deliveries at once.

    Periods settle after 120 s here (the estate's timings count on it), whatever the default.
    """
    monkeypatch.setenv("OAKTREE_DATABASE_URL", db_url)
    monkeypatch.setenv("OAKTREE_ALERT_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("OAKTREE_ALERT_SETTLE_SECONDS", "120")
    return load_settings()


@pytest.fixture
def estate(alert_settings: Settings) -> Settings:
    """Return the settings of a lake whose prod web instance runs hot (`estate.hot_web`)."""
    hot_web(alert_settings)
    return alert_settings
