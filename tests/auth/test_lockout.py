"""Lockout: five failures in fifteen minutes lock an account for fifteen minutes, and it is logged."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from models import AuditEntry, LoginAttempt
from oaktree.auth import (
    AccountLocked,
    AuthContext,
    AuthenticationFailed,
    LockoutPolicy,
    Principal,
    login,
    set_password,
)
from oaktree.auth.lockout import Outcome, locked_until
from tests.auth.conftest import GOOD_PASSWORD, SECRET, FakeClock, make_user

T0 = datetime(2025, 4, 20, 12, 0, tzinfo=UTC)
POLICY = LockoutPolicy()


def _fail(session: Session, ctx: AuthContext, identifier: str = "watcher") -> None:
    with pytest.raises(AuthenticationFailed, match="invalid username/email or password"):
        login(session=session, ctx=ctx, identifier=identifier, password="wrong-password-1")


def test_fifth_failure_locks_even_the_right_password_out(
    session: Session, ctx: AuthContext, clock: FakeClock, viewer: Principal
) -> None:
    for _ in range(4):
        _fail(session, ctx)
        clock.advance(minutes=1)
    with capture_logs() as logs:
        _fail(session, ctx)
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == ["auth.account_locked"]
    clock.advance(minutes=14, seconds=59)
    with pytest.raises(AccountLocked, match="try again in 1 minute") as caught:
        login(session=session, ctx=ctx, identifier="watcher@example.com", password=GOOD_PASSWORD)
    assert caught.value.retry_after_seconds == 1
    assert session.scalars(select(AuditEntry.action).where(AuditEntry.target == "watcher")).all() == [
        "user.created",
        "user.locked_out",
    ]
    clock.advance(seconds=1)  # fifteen minutes after the fifth failure
    assert login(session=session, ctx=ctx, identifier="watcher", password=GOOD_PASSWORD).principal == viewer


def test_failures_spread_wider_than_the_window_do_not_lock(
    sqlite_session: Session, ctx: AuthContext, clock: FakeClock
) -> None:

    make_user(sqlite_session, ctx, "patient")
    for _ in range(10):
        _fail(sqlite_session, ctx, "patient")
        clock.advance(minutes=4)  # never five within fifteen minutes
    assert (
        login(
            session=sqlite_session, ctx=ctx, identifier="patient", password=GOOD_PASSWORD
        ).principal.username
        == "patient"
    )


def test_unknown_names_lock_exactly_like_accounts(sqlite_session: Session, ctx: AuthContext) -> None:
    for _ in range(5):
        _fail(sqlite_session, ctx, "ghost")
    with pytest.raises(AccountLocked) as caught:
        login(session=sqlite_session, ctx=ctx, identifier="GHOST", password="anything-at-all")
    assert str(caught.value) == "too many failed attempts; try again in 15 minute(s)"


def test_policy_is_configurable(sqlite_session: Session, clock: FakeClock, ctx: AuthContext) -> None:

    strict = AuthContext(
        signer=ctx.signer,
        bcrypt_rounds=4,
        clock=clock,
        lockout=LockoutPolicy(attempts=2, window=timedelta(minutes=1), duration=timedelta(minutes=30)),
    )
    make_user(sqlite_session, strict, "strict")
    _fail(sqlite_session, strict, "strict")
    _fail(sqlite_session, strict, "strict")
    clock.advance(minutes=29)
    with pytest.raises(AccountLocked, match="1 minute"):
        login(session=sqlite_session, ctx=strict, identifier="strict", password=GOOD_PASSWORD)
    clock.advance(minutes=1)
    assert (
        login(
            session=sqlite_session, ctx=strict, identifier="strict", password=GOOD_PASSWORD
        ).principal.username
        == "strict"
    )


def test_refused_attempts_do_not_extend_the_lock(
    sqlite_session: Session, ctx: AuthContext, clock: FakeClock
) -> None:

    make_user(sqlite_session, ctx, "hammered")
    for _ in range(5):
        _fail(sqlite_session, ctx, "hammered")
    for _ in range(3):
        clock.advance(minutes=4)
        with pytest.raises(AccountLocked):
            login(session=sqlite_session, ctx=ctx, identifier="hammered", password="wrong-password-1")
    clock.advance(minutes=3)
    assert (
        login(
            session=sqlite_session, ctx=ctx, identifier="hammered", password=GOOD_PASSWORD
        ).principal.username
        == "hammered"
    )


def test_a_password_reset_by_an_admin_lifts_the_lock(
    session: Session, ctx: AuthContext, admin: Principal, viewer: Principal
) -> None:
    for _ in range(5):
        _fail(session, ctx)
    set_password(
        session=session, ctx=ctx, principal=admin, username="watcher", new_password="brand-new-secret-9"
    )
    assert (
        login(session=session, ctx=ctx, identifier="watcher", password="brand-new-secret-9").principal
        == viewer
    )


def _keyed_digest(normalised: str) -> str:
    key = hmac.new(SECRET.encode(), b"oaktree/login_attempts.identifier/v1", hashlib.sha256).digest()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


def test_what_was_typed_as_the_name_is_kept_only_as_a_keyed_hash(
    session: Session, ctx: AuthContext, viewer: Principal
) -> None:
    typed = "  My-Passphrase-In-The-Wrong-Box "
    with capture_logs() as logs:
        for _ in range(5):
            _fail(session, ctx, typed)
        with pytest.raises(AccountLocked):  # still the lockout key, whatever the case and spacing
            login(session=session, ctx=ctx, identifier=typed.upper(), password="wrong-password-1")
    stored = session.scalars(select(LoginAttempt.identifier).where(LoginAttempt.user_id.is_(None))).all()
    assert stored == [_keyed_digest("my-passphrase-in-the-wrong-box")] * 6
    assert "my-passphrase-in-the-wrong-box" not in repr(logs).lower()
    assert {entry["event"] for entry in logs} == {"auth.account_locked", "auth.login_refused_locked"}


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("history", "now", "expected"),
    [
        ([], 0, None),
        ([(_at(m), Outcome.FAILURE) for m in range(5)], 5, _at(19)),
        ([(_at(m), Outcome.FAILURE) for m in range(5)], 19, None),
        ([(_at(m), Outcome.FAILURE) for m in range(4)], 5, None),
        # A success in between clears the count.
        (
            [
                *[(_at(m), Outcome.FAILURE) for m in range(3)],
                (_at(3), Outcome.SUCCESS),
                (_at(4), Outcome.FAILURE),
            ],
            5,
            None,
        ),
        # Exactly fifteen minutes between the first and fifth failure: the first has left the window.
        ([(_at(m), Outcome.FAILURE) for m in (0, 5, 10, 14, 15)], 15, None),
        ([(_at(m), Outcome.FAILURE) for m in (0, 5, 10, 14, 14.9)], 15, _at(29.9)),
        # An unlock ends a lock in force.
        ([*[(_at(m), Outcome.FAILURE) for m in range(5)], (_at(6), Outcome.UNLOCKED)], 7, None),
        # Failures during a lock (recorded as refused) start nothing new.
        (
            [
                *[(_at(m), Outcome.FAILURE) for m in range(5)],
                *[(_at(m), Outcome.LOCKED) for m in range(5, 18)],
            ],
            18,
            _at(19),
        ),
    ],
)
def test_locked_until(history: list[tuple[datetime, str]], now: float, expected: datetime | None) -> None:
    assert locked_until(history, policy=POLICY, now=_at(now)) == expected
