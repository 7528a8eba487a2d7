"""Auth fixtures: a migrated database on SQLite or PostgreSQL, a controllable clock, an auth context."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from oaktree import db
from oaktree.auth import AuthContext, Principal, TokenSigner, register_user
from oaktree.auth.users import principal_for
from tests.models.database import BACKENDS, migrated_database

SECRET = "test-secret-long-enough-even-for-hs512-" + "0123456789abcdef" * 2
GOOD_PASSWORD = "correct-horse-battery-7"


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a timedelta's keyword arguments."""
        self.current += timedelta(**delta)


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Return the URL of a migrated SQLite database (the embedded default)."""
    yield from migrated_database(request, tmp_path, "sqlite")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Return a migrated database URL; tests using it run on SQLite and on PostgreSQL."""
    yield from migrated_database(request, tmp_path, request.param)


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """Return a session on the parametrised database."""
    with Session(db.engine_for(db_url), expire_on_commit=False) as opened:
        yield opened


@pytest.fixture
def clock() -> FakeClock:
    """Return a clock fixed at a known instant."""
    return FakeClock(datetime(2025, 4, 20, 12, 0, tzinfo=UTC))


@pytest.fixture
def ctx(clock: FakeClock) -> AuthContext:
    """Return an auth context with cheap bcrypt, a fixed secret and the fake clock."""
    return AuthContext(signer=TokenSigner(secret=SECRET), bcrypt_rounds=4, clock=clock)


def make_user(session: Session, ctx: AuthContext, username: str, role: str | None = None) -> Principal:
    """Register a user (through the system principal when a role is given) and return its principal."""
    user = register_user(
        session=session,
        ctx=ctx,
        username=username,
        email=f"{username}@example.com",
        password=GOOD_PASSWORD,
        role=role,
        principal=Principal.system() if role else None,
    )
    return principal_for(user)


@pytest.fixture
def admin(session: Session, ctx: AuthContext) -> Principal:
    """Return the first user, who becomes admin."""
    return make_user(session, ctx, "root-admin")


@pytest.fixture
def operator(session: Session, ctx: AuthContext, admin: Principal) -> Principal:
    """Return an operator."""
    return make_user(session, ctx, "ops", "operator")


@pytest.fixture
def viewer(session: Session, ctx: AuthContext, admin: Principal) -> Principal:
    """Return a viewer."""
    return make_user(session, ctx, "watcher", "viewer")


@pytest.fixture
def sqlite_session(sqlite_url: str) -> Iterator[Session]:
    """Return a session on a migrated SQLite database (for checks that need only one backend)."""
    with Session(db.engine_for(sqlite_url), expire_on_commit=False) as opened:
        yield opened


@pytest.fixture
def settings_without_test_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop the suite's cheap bcrypt cost so settings take the real default (12)."""
    monkeypatch.delenv("OAKTREE_BCRYPT_ROUNDS")
