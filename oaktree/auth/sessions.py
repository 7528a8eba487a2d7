"""Login, token verification and logout."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from models import LoginAttempt, RevokedToken, User
from models.users import new_account_key
from oaktree.auth import audit
from oaktree.auth.context import AuthContext
from oaktree.auth.errors import AccountLocked, AuthenticationFailed, InvalidInput, InvalidToken
from oaktree.auth.lockout import Outcome, identifier_digest, locked_until, normalise_identifier
from oaktree.auth.passwords import dummy_hash, verify_password
from oaktree.auth.roles import Permission, Principal, require
from oaktree.auth.users import find_user, principal_for
from oaktree.auth.validation import control_character_problem
from oaktree.logs import get_logger

log = get_logger(__name__)

# One message for an unknown name and a wrong password, so login does not reveal which names exist.
BAD_CREDENTIALS = "invalid username/email or password"


@dataclasses.dataclass(frozen=True, slots=True)
class LoginResult:
    """A successful login: the token to present on later calls, who it is for, and when it expires."""

    token: str
    principal: Principal
    expires_at: datetime


def _attempt_history(
    session: Session, user: User | None, digest: str, since: datetime
) -> list[tuple[datetime, str]]:
    # A real account's attempts count whatever name or address was typed; an unknown name is
    # locked by (the digest of) what was typed, exactly like an account, so lockout does not
    # reveal existence.
    if user is not None:
        condition = LoginAttempt.user_id == user.id
    else:
        condition = and_(LoginAttempt.identifier == digest, LoginAttempt.user_id.is_(None))
    rows = session.execute(
        select(LoginAttempt.at, LoginAttempt.outcome)
        .where(condition, LoginAttempt.at > since)
        .order_by(LoginAttempt.at, LoginAttempt.id)
    )
    return [(at, outcome) for at, outcome in rows]


def login(*, session: Session, ctx: AuthContext, identifier: str, password: str) -> LoginResult:
    """Check a username-or-email and password and return a session token.

    Raises AuthenticationFailed (same message for unknown names, disabled accounts and wrong
    passwords, after the same bcrypt work) or AccountLocked. Every attempt is recorded and
    committed, including failures. An identifier holding control characters, which no account
    has, is refused as InvalidInput before anything is looked up.
    """
    now = ctx.now()
    typed = normalise_identifier(identifier)
    if problem := control_character_problem(typed):
        raise InvalidInput({"identifier": problem})
    digest = identifier_digest(typed, secret=ctx.signer.secret)
    user = find_user(session, typed)
    history = _attempt_history(session, user, digest, now - ctx.lockout.lookback)

    def remember(outcome: Outcome) -> None:
        session.add(
            LoginAttempt(user_id=user.id if user else None, identifier=digest, outcome=outcome, at=now)
        )
        session.commit()

    # Logs name the account, or the digest for unknown names, never what was typed.
    lock_end = locked_until(history, policy=ctx.lockout, now=now)
    if lock_end is not None:
        remember(Outcome.LOCKED)
        log.warning("auth.login_refused_locked", identifier_digest=digest, user_id=user.id if user else None)
        raise AccountLocked(int((lock_end - now).total_seconds()))

    password_ok = verify_password(password, user.password_hash if user else dummy_hash(ctx.bcrypt_rounds))
    # A disabled account fails exactly like a wrong password, after the same bcrypt work: a
    # different answer when the password is right would confirm the password to anyone guessing.
    if user is None or not password_ok or not user.is_active:
        remember(Outcome.FAILURE)
        if locked_until([*history, (now, Outcome.FAILURE)], policy=ctx.lockout, now=now) is not None:
            log.warning(
                "auth.account_locked",
                identifier_digest=digest,
                user_id=user.id if user else None,
                attempts=ctx.lockout.attempts,
                minutes=int(ctx.lockout.duration.total_seconds() // 60),
            )
            if user is not None:
                audit.record(session, actor=None, action="user.locked_out", target=user.username, at=now)
                session.commit()
        raise AuthenticationFailed(BAD_CREDENTIALS)

    user.last_login_at = now
    if user.account_key is None:  # inserted by another tool, which knows nothing of account keys
        user.account_key = new_account_key()
    remember(Outcome.SUCCESS)
    principal = principal_for(user)
    token = ctx.signer.issue(
        user_id=user.id,
        account_key=user.account_key,
        username=user.username,
        roles=principal.roles,
        token_version=user.token_version,
        now=now,
    )
    log.info("auth.login", user_id=user.id, username=user.username)
    return LoginResult(token=token, principal=principal, expires_at=now + ctx.signer.ttl)


def authenticate(*, session: Session, ctx: AuthContext, token: str) -> Principal:
    """Return the principal of a valid session token, else raise InvalidToken.

    Beyond signature and expiry, the account it was issued to must still exist (same id and account
    key: ids can be reused) and be active, and the token must not be logged out or older than the
    user's last password change, role change or logout-everywhere. Roles come from the database,
    never from the token.
    """
    claims = ctx.signer.verify(token, now=ctx.now())
    # populate_existing: revocation must not depend on what this session happened to read before.
    user = session.get(User, claims.user_id, populate_existing=True)
    if user is None or user.account_key != claims.account_key:
        raise InvalidToken("the token's user no longer exists")
    if not user.is_active:
        raise InvalidToken("the token's user is disabled")
    if claims.token_version != user.token_version or session.get(RevokedToken, claims.token_id) is not None:
        raise InvalidToken("token has been revoked")
    return principal_for(user)


def logout(*, session: Session, ctx: AuthContext, token: str, everywhere: bool = False) -> None:
    """End a session: this token stops working; with `everywhere`, every token of the user does."""
    principal = require(authenticate(session=session, ctx=ctx, token=token), Permission.MANAGE_OWN_ACCOUNT)
    claims = ctx.signer.verify(token, now=ctx.now())
    now = ctx.now()
    # Rows for tokens past their expiry are useless: expiry alone already rejects those tokens.
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))
    session.add(
        RevokedToken(
            jti=claims.token_id, user_id=claims.user_id, expires_at=claims.expires_at, revoked_at=now
        )
    )
    if everywhere:
        user = session.get(User, claims.user_id)
        assert user is not None  # authenticate() just found it
        user.token_version += 1
    audit.record(
        session,
        actor=principal,
        action="user.logout",
        target=principal.username,
        at=now,
        details={"everywhere": everywhere},
    )
    session.commit()
    log.info("auth.logout", username=principal.username, everywhere=everywhere)
