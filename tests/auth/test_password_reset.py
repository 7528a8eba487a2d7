"""Password reset by email: single use, one hour, stored hashed, delivered over real SMTP."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from models import PasswordResetToken
from oaktree.auth import (
    AuthContext,
    AuthenticationFailed,
    InvalidInput,
    InvalidToken,
    Principal,
    authenticate,
    login,
    request_password_reset,
    reset_password,
)
from oaktree.auth.reset import token_digest
from oaktree.config import ConfigError
from oaktree.notify.email import EmailChannel, SmtpConfig
from tests.auth.conftest import GOOD_PASSWORD, FakeClock, make_user
from tests.notify.smtp_sink import RecordingHandler, free_port, smtp_sink

NEW_PASSWORD = "a-fresh-passphrase-42"


@pytest.fixture
def mailbox() -> Iterator[tuple[RecordingHandler, int]]:
    """Run a real SMTP server on loopback."""
    with smtp_sink() as running:
        yield running


@pytest.fixture
def mailing_ctx(ctx: AuthContext, mailbox: tuple[RecordingHandler, int]) -> AuthContext:
    """Return the test context with an email channel pointed at the loopback server."""
    channel = EmailChannel(
        SmtpConfig(host="127.0.0.1", port=mailbox[1], starttls=False, sender="ops@example.com")
    )
    return dataclasses.replace(ctx, email=channel, reset_url="https://oaktree.example.com/reset")


def _token_from(handler: RecordingHandler, index: int = -1) -> str:
    body = handler.messages[index].get_content()
    match = re.search(r"reset\?token=([A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


def test_reset_round_trip(
    session: Session, mailing_ctx: AuthContext, mailbox: tuple[RecordingHandler, int], viewer: Principal
) -> None:
    handler = mailbox[0]
    old_session_token = login(
        session=session, ctx=mailing_ctx, identifier="watcher", password=GOOD_PASSWORD
    ).token
    request_password_reset(session=session, ctx=mailing_ctx, email="Watcher@Example.com")
    message = handler.messages[0]
    assert (message["To"], message["From"], message["Subject"]) == (
        "watcher@example.com",
        "ops@example.com",
        "OakTree password reset",
    )
    assert handler.recipients == [["watcher@example.com"]]
    assert "expires in 60 minutes" in message.get_content()
    token = _token_from(handler)
    # Only the digest is stored.
    stored = session.scalars(select(PasswordResetToken)).one()
    assert stored.token_hash == token_digest(token) and token not in stored.token_hash

    reset_password(session=session, ctx=mailing_ctx, token=token, new_password=NEW_PASSWORD)
    assert (
        login(session=session, ctx=mailing_ctx, identifier="watcher", password=NEW_PASSWORD).principal
        == viewer
    )
    with pytest.raises(AuthenticationFailed):
        login(session=session, ctx=mailing_ctx, identifier="watcher", password=GOOD_PASSWORD)
    with pytest.raises(InvalidToken, match="revoked"):
        authenticate(session=session, ctx=mailing_ctx, token=old_session_token)
    with pytest.raises(InvalidToken, match="invalid, already used or expired"):
        reset_password(session=session, ctx=mailing_ctx, token=token, new_password="yet-another-pass-1")


def test_token_expires_after_an_hour(
    session: Session,
    mailing_ctx: AuthContext,
    mailbox: tuple[RecordingHandler, int],
    clock: FakeClock,
    viewer: Principal,
) -> None:
    request_password_reset(session=session, ctx=mailing_ctx, email="watcher@example.com")
    request_password_reset(session=session, ctx=mailing_ctx, email="watcher@example.com")
    first, second = _token_from(mailbox[0], 0), _token_from(mailbox[0], 1)
    with pytest.raises(InvalidToken):  # a newer request supersedes older tokens
        reset_password(session=session, ctx=mailing_ctx, token=first, new_password=NEW_PASSWORD)
    clock.advance(minutes=60)
    with pytest.raises(InvalidToken, match="expired"):
        reset_password(session=session, ctx=mailing_ctx, token=second, new_password=NEW_PASSWORD)


def test_token_works_until_just_before_the_hour(
    sqlite_session: Session, mailing_ctx: AuthContext, mailbox: tuple[RecordingHandler, int], clock: FakeClock
) -> None:

    make_user(sqlite_session, mailing_ctx, "late")
    request_password_reset(session=sqlite_session, ctx=mailing_ctx, email="late@example.com")
    clock.advance(minutes=59, seconds=59)
    reset_password(
        session=sqlite_session, ctx=mailing_ctx, token=_token_from(mailbox[0]), new_password=NEW_PASSWORD
    )
    assert (
        login(
            session=sqlite_session, ctx=mailing_ctx, identifier="late", password=NEW_PASSWORD
        ).principal.username
        == "late"
    )


def test_weak_new_password_keeps_the_token_usable(
    sqlite_session: Session, mailing_ctx: AuthContext, mailbox: tuple[RecordingHandler, int]
) -> None:

    make_user(sqlite_session, mailing_ctx, "retry")
    request_password_reset(session=sqlite_session, ctx=mailing_ctx, email="retry@example.com")
    token = _token_from(mailbox[0])
    with pytest.raises(InvalidInput) as caught:
        reset_password(session=sqlite_session, ctx=mailing_ctx, token=token, new_password="password1234")
    assert caught.value.errors == {"password": "is too common; choose a less guessable password"}
    reset_password(session=sqlite_session, ctx=mailing_ctx, token=token, new_password=NEW_PASSWORD)


def test_unknown_address_sends_nothing_and_says_nothing(
    sqlite_session: Session, mailing_ctx: AuthContext, mailbox: tuple[RecordingHandler, int]
) -> None:
    assert request_password_reset(session=sqlite_session, ctx=mailing_ctx, email="nobody@example.com") is None
    assert mailbox[0].messages == []
    assert sqlite_session.scalars(select(PasswordResetToken)).all() == []
    with pytest.raises(InvalidInput) as caught:
        request_password_reset(session=sqlite_session, ctx=mailing_ctx, email="not an address")
    assert list(caught.value.errors) == ["email"]


def test_sandbox_without_smtp_logs_the_token(sqlite_session: Session, ctx: AuthContext) -> None:

    make_user(sqlite_session, ctx, "sandboxer")
    with capture_logs() as logs:
        request_password_reset(session=sqlite_session, ctx=ctx, email="sandboxer@example.com")
    [entry] = [entry for entry in logs if entry["event"] == "auth.password_reset_token"]
    assert entry["log_level"] == "warning"
    assert "logged instead of sent" in entry["note"]
    token = re.search(r"page:\n\n    (\S+)", entry["body"]).group(1)  # type: ignore[union-attr]
    reset_password(session=sqlite_session, ctx=ctx, token=token, new_password=NEW_PASSWORD)


def test_production_without_smtp_refuses_and_logs_nothing(sqlite_session: Session, ctx: AuthContext) -> None:

    make_user(sqlite_session, ctx, "prod")
    production = dataclasses.replace(ctx, production=True, bcrypt_rounds=12)
    with capture_logs() as logs, pytest.raises(ConfigError, match="OAKTREE_SMTP_HOST"):
        request_password_reset(session=sqlite_session, ctx=production, email="prod@example.com")
    assert logs == []
    assert sqlite_session.scalars(select(PasswordResetToken)).all() == []


def test_mail_server_failure_is_logged_not_raised(sqlite_session: Session, ctx: AuthContext) -> None:

    make_user(sqlite_session, ctx, "unlucky")
    dead = dataclasses.replace(
        ctx, email=EmailChannel(SmtpConfig(host="127.0.0.1", port=free_port(), starttls=False))
    )
    with capture_logs() as logs:
        request_password_reset(session=sqlite_session, ctx=dead, email="unlucky@example.com")
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["auth.password_reset_email_failed"]
