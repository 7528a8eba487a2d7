"""Password reset by email: a single-use token, valid for an hour, stored only as its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import PasswordResetToken, User
from oaktree.auth import audit
from oaktree.auth.context import AuthContext
from oaktree.auth.errors import InvalidInput, InvalidToken
from oaktree.auth.passwords import password_problem
from oaktree.auth.users import principal_for, store_new_password
from oaktree.auth.validation import normalise_email
from oaktree.config import ConfigError
from oaktree.logs import get_logger
from oaktree.notify import DeliveryError

log = get_logger(__name__)

RESET_SUBJECT = "OakTree password reset"


def token_digest(token: str) -> str:
    """Return the stored form of a reset token.

    A plain SHA-256 suffices (no bcrypt): the token is 256 random bits, so there is nothing to
    guess even with the table in hand.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def _message(ctx: AuthContext, user: User, token: str) -> str:
    minutes = int(ctx.reset_ttl.total_seconds() // 60)
    how = (
        f"Open this link to choose a new password:\n\n    {ctx.reset_url}?{urlencode({'token': token})}\n"
        if ctx.reset_url
        else f"Enter this reset token on the OakTree password-reset page:\n\n    {token}\n"
    )
    return (
        f"Hello {user.username},\n\n"
        f"Someone (hopefully you) asked to reset your OakTree password.\n{how}\n"
        f"It works once and expires in {minutes} minutes. If you did not ask for this, ignore this email;\n"
        "your password stays as it is.\n"
    )


def request_password_reset(*, session: Session, ctx: AuthContext, email: str) -> None:
    """Email a reset token to the account with this address, if there is one.

    Returns nothing either way, so the caller shows the same answer for known and unknown
    addresses. Older unused tokens of the account stop working. Without an SMTP server the sandbox
    logs the token instead; production mode refuses to run without one.
    """
    if ctx.email is None and ctx.production:
        raise ConfigError("password reset needs OAKTREE_SMTP_HOST in production mode")
    address, problem = normalise_email(email)
    if problem:
        raise InvalidInput({"email": problem})
    user = session.scalars(select(User).where(User.email == address)).first()
    if user is None or not user.is_active:
        log.info("auth.reset_requested_for_unknown_address")
        return

    now = ctx.now()
    token = secrets.token_urlsafe(32)
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    session.add(
        PasswordResetToken(
            user_id=user.id, token_hash=token_digest(token), created_at=now, expires_at=now + ctx.reset_ttl
        )
    )
    audit.record(session, actor=None, action="user.password_reset_requested", target=user.username, at=now)
    session.commit()

    body = _message(ctx, user, token)
    if ctx.email is None:
        log.warning(
            "auth.password_reset_token",
            note="sandbox mode without OAKTREE_SMTP_HOST: the reset email is logged instead of sent",
            to=user.email,
            body=body,
        )
        return
    try:
        ctx.email.send(to=user.email, subject=RESET_SUBJECT, body=body)
    except DeliveryError as exc:
        # Not raised to the caller: an error only for registered addresses would reveal them.
        log.error("auth.password_reset_email_failed", to=user.email, error=str(exc), retryable=exc.retryable)


def reset_password(*, session: Session, ctx: AuthContext, token: str, new_password: str) -> None:
    """Set a new password with a reset token; the token, every other reset token and every session
    token of the user stop working. An unacceptable password leaves the token usable."""
    now = ctx.now()
    row = session.scalars(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token))
    ).first()
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise InvalidToken("the reset token is invalid, already used or expired")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidToken("the reset token is invalid, already used or expired")
    if problem := password_problem(new_password, username=user.username, email=user.email):
        raise InvalidInput({"password": problem})
    # Claim the token atomically: of two concurrent uses, only one updates the row.
    claimed = session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        session.rollback()
        raise InvalidToken("the reset token is invalid, already used or expired")
    store_new_password(session, ctx, user, new_password)
    audit.record(
        session,
        actor=principal_for(user),
        action="user.password_reset",
        target=user.username,
        at=now,
    )
    session.commit()
    log.info("auth.password_reset", username=user.username)
