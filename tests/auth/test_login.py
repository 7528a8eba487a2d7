"""Login, token verification, logout and revocation."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models import LoginAttempt, RevokedToken, User
from oaktree.auth import (
    AuthContext,
    AuthenticationFailed,
    InvalidToken,
    Principal,
    TokenSigner,
    authenticate,
    change_password,
    delete_user,
    login,
    logout,
    set_active,
    set_role,
)
from oaktree.auth import passwords as password_module
from oaktree.auth.lockout import identifier_digest
from oaktree.auth.passwords import hash_password
from oaktree.auth.tokens import MAX_CLOCK_SKEW
from oaktree.config import ConfigError
from tests.auth.conftest import GOOD_PASSWORD, SECRET, FakeClock, make_user


def _login(
    session: Session, ctx: AuthContext, identifier: str = "watcher", password: str = GOOD_PASSWORD
) -> str:
    return login(session=session, ctx=ctx, identifier=identifier, password=password).token


def test_login_by_username_or_email_carries_the_seed_claims(
    session: Session, ctx: AuthContext, clock: FakeClock, viewer: Principal
) -> None:
    by_name = login(session=session, ctx=ctx, identifier="Watcher", password=GOOD_PASSWORD)
    by_email = login(session=session, ctx=ctx, identifier=" watcher@EXAMPLE.com ", password=GOOD_PASSWORD)
    assert by_name.principal == by_email.principal == viewer
    claims = jwt.decode(by_name.token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    issued = int(clock().timestamp())
    assert claims["sub"] == str(viewer.user_id)
    assert claims["username"] == "watcher"
    assert claims["roles"] == ["viewer"]
    assert (claims["iat"], claims["exp"]) == (issued, issued + 24 * 3600)
    assert jwt.get_unverified_header(by_name.token)["alg"] == "HS256"
    other = jwt.decode(by_email.token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["jti"] != other["jti"]
    assert by_name.expires_at == clock() + ctx.signer.ttl
    assert authenticate(session=session, ctx=ctx, token=by_name.token) == viewer


def test_unknown_user_and_wrong_password_look_the_same(
    session: Session, ctx: AuthContext, viewer: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked_hashes: list[str] = []
    real_checkpw = password_module.bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        checked_hashes.append(hashed.decode())
        return real_checkpw(password, hashed)

    monkeypatch.setattr(password_module.bcrypt, "checkpw", counting_checkpw)
    messages = []
    for identifier in ("watcher", "nobody-here"):
        with pytest.raises(AuthenticationFailed) as caught:
            _login(session, ctx, identifier, "wrong-password-123")
        messages.append(str(caught.value))
    assert messages == ["invalid username/email or password"] * 2
    # Both paths ran exactly one bcrypt check at the same cost: no timing oracle.
    assert len(checked_hashes) == 2
    assert checked_hashes[0][:7] == checked_hashes[1][:7] == "$2b$04$"
    assert checked_hashes[1] == password_module.dummy_hash(4)


def test_disabled_user_cannot_log_in_and_their_tokens_stop(
    session: Session, ctx: AuthContext, admin: Principal, viewer: Principal
) -> None:
    token = _login(session, ctx)
    set_active(session=session, ctx=ctx, principal=admin, username="watcher", active=False)
    with pytest.raises(InvalidToken, match="disabled"):
        authenticate(session=session, ctx=ctx, token=token)
    with pytest.raises(AuthenticationFailed, match="invalid username/email or password"):
        _login(session, ctx)
    set_active(session=session, ctx=ctx, principal=admin, username="watcher", active=True)
    with pytest.raises(InvalidToken, match="revoked"):  # re-enabling does not revive old tokens
        authenticate(session=session, ctx=ctx, token=token)
    assert authenticate(session=session, ctx=ctx, token=_login(session, ctx)) == viewer


def test_a_disabled_account_answers_alike_whatever_the_password(
    session: Session, ctx: AuthContext, admin: Principal, viewer: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_active(session=session, ctx=ctx, principal=admin, username="watcher", active=False)
    checked_hashes: list[str] = []
    real_checkpw = password_module.bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        checked_hashes.append(hashed.decode())
        return real_checkpw(password, hashed)

    monkeypatch.setattr(password_module.bcrypt, "checkpw", counting_checkpw)
    answers = []
    for password in (GOOD_PASSWORD, "wrong-password-123"):
        with pytest.raises(AuthenticationFailed) as caught:
            _login(session, ctx, "watcher", password)
        answers.append((type(caught.value), str(caught.value)))
    assert answers == [(AuthenticationFailed, "invalid username/email or password")] * 2
    assert len(checked_hashes) == 2  # one bcrypt check each way: the right password is no faster
    outcomes = session.scalars(
        select(LoginAttempt.outcome).where(LoginAttempt.user_id == viewer.user_id)
    ).all()
    assert outcomes == ["failure", "failure"]


def test_token_for_a_deleted_user_is_rejected(
    session: Session, ctx: AuthContext, admin: Principal, viewer: Principal
) -> None:
    token = _login(session, ctx)
    delete_user(session=session, ctx=ctx, principal=admin, username="watcher")
    with pytest.raises(InvalidToken, match="no longer exists"):
        authenticate(session=session, ctx=ctx, token=token)


def test_a_deleted_users_token_does_not_pass_for_the_next_account_with_its_id(
    sqlite_session: Session, ctx: AuthContext
) -> None:
    admin = make_user(sqlite_session, ctx, "root-admin")
    leaver = make_user(sqlite_session, ctx, "leaver")
    token = _login(sqlite_session, ctx, "leaver")
    delete_user(session=sqlite_session, ctx=ctx, principal=admin, username="leaver")
    newcomer = make_user(sqlite_session, ctx, "newcomer")
    assert newcomer.user_id == leaver.user_id  # SQLite hands the highest id out again after a delete
    with pytest.raises(InvalidToken, match="no longer exists"):
        authenticate(session=sqlite_session, ctx=ctx, token=token)


def test_an_account_inserted_without_a_key_gets_one_at_login(
    sqlite_session: Session, ctx: AuthContext
) -> None:
    # Another tool, writing the seed's columns only.
    sqlite_session.execute(
        text("INSERT INTO users (username, email, password_hash) VALUES ('legacy', 'l@example.com', :hash)"),
        {"hash": hash_password(GOOD_PASSWORD, rounds=4)},
    )
    sqlite_session.commit()
    token = _login(sqlite_session, ctx, "legacy")
    key = sqlite_session.scalars(select(User.account_key).where(User.username == "legacy")).one()
    assert key is not None and len(key) == 32
    assert authenticate(session=sqlite_session, ctx=ctx, token=token).username == "legacy"


def test_expiry_follows_the_clock(
    session: Session, ctx: AuthContext, clock: FakeClock, viewer: Principal
) -> None:
    token = _login(session, ctx)
    clock.advance(hours=23, minutes=59, seconds=59)
    assert authenticate(session=session, ctx=ctx, token=token) == viewer
    clock.advance(seconds=1)
    with pytest.raises(InvalidToken, match="expired"):
        authenticate(session=session, ctx=ctx, token=token)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_tokens_are_rejected(sqlite_session: Session, ctx: AuthContext, clock: FakeClock) -> None:
    make_user(sqlite_session, ctx, "target")
    genuine = _login(sqlite_session, ctx, "target")
    claims = jwt.decode(genuine, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    forged_claims = {**claims, "roles": ["admin"]}
    cases = {
        "other secret": jwt.encode(claims, "another-secret-" + "x" * 60, algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(forged_claims)}.",
        "alg None spelled differently": f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{_b64(forged_claims)}.",
        "other algorithm, same secret": jwt.encode(claims, SECRET, algorithm="HS512"),
        "tampered payload": ".".join([genuine.split(".")[0], _b64(forged_claims), genuine.split(".")[2]]),
        "garbage": "not-a-token",
        "empty": "",
        "missing expiry": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"}, SECRET, algorithm="HS256"
        ),
        "other issuer": jwt.encode({**claims, "iss": "someone-else"}, SECRET, algorithm="HS256"),
        "non-numeric subject": jwt.encode({**claims, "sub": "x"}, SECRET, algorithm="HS256"),
    }
    expected = {
        "other secret": "signature is invalid",
        "alg none": "algorithm 'none' is not accepted",
        "alg None spelled differently": "algorithm 'None' is not accepted",
        "other algorithm, same secret": "algorithm 'HS512' is not accepted",
        "tampered payload": "signature is invalid",
        "garbage": "malformed token",
        "empty": "malformed token",
        "missing expiry": 'token is invalid (Token is missing the "exp" claim)',
        "other issuer": "token is invalid (Invalid issuer)",
        "non-numeric subject": "token claims are malformed",
    }
    for case, token in cases.items():
        with pytest.raises(InvalidToken) as caught:
            authenticate(session=sqlite_session, ctx=ctx, token=token)
        assert expected[case] in str(caught.value), case


def test_a_token_issued_in_the_future_is_refused(sqlite_session: Session, ctx: AuthContext) -> None:
    make_user(sqlite_session, ctx, "early")
    token = _login(sqlite_session, ctx, "early")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    skew = int(MAX_CLOCK_SKEW.total_seconds())
    within_skew = jwt.encode({**claims, "iat": claims["iat"] + skew}, SECRET, algorithm="HS256")
    beyond_skew = jwt.encode({**claims, "iat": claims["iat"] + skew + 1}, SECRET, algorithm="HS256")
    assert authenticate(session=sqlite_session, ctx=ctx, token=within_skew).username == "early"
    with pytest.raises(InvalidToken, match="issued in the future"):
        authenticate(session=sqlite_session, ctx=ctx, token=beyond_skew)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes for HS256"):
        TokenSigner(secret="too-short")


def test_logout_ends_that_token_only(session: Session, ctx: AuthContext, viewer: Principal) -> None:
    first, second = _login(session, ctx), _login(session, ctx)
    logout(session=session, ctx=ctx, token=first)
    with pytest.raises(InvalidToken, match="revoked"):
        authenticate(session=session, ctx=ctx, token=first)
    assert authenticate(session=session, ctx=ctx, token=second) == viewer
    with pytest.raises(InvalidToken, match="revoked"):
        logout(session=session, ctx=ctx, token=first)


def test_logout_everywhere_ends_every_token(session: Session, ctx: AuthContext, viewer: Principal) -> None:
    first, second = _login(session, ctx), _login(session, ctx)
    logout(session=session, ctx=ctx, token=first, everywhere=True)
    for token in (first, second):
        with pytest.raises(InvalidToken, match="revoked"):
            authenticate(session=session, ctx=ctx, token=token)
    assert authenticate(session=session, ctx=ctx, token=_login(session, ctx)) == viewer


def test_expired_revocations_are_purged(sqlite_session: Session, ctx: AuthContext, clock: FakeClock) -> None:
    make_user(sqlite_session, ctx, "purger")
    logout(session=sqlite_session, ctx=ctx, token=_login(sqlite_session, ctx, "purger"))
    clock.advance(hours=25)
    logout(session=sqlite_session, ctx=ctx, token=_login(sqlite_session, ctx, "purger"))
    assert len(sqlite_session.scalars(select(RevokedToken)).all()) == 1


def test_password_change_ends_old_tokens(session: Session, ctx: AuthContext, viewer: Principal) -> None:
    old_token = _login(session, ctx)
    with pytest.raises(AuthenticationFailed, match="current password is wrong"):
        change_password(
            session=session,
            ctx=ctx,
            principal=viewer,
            current_password="nope",
            new_password="a-new-passphrase-1",
        )
    change_password(
        session=session,
        ctx=ctx,
        principal=viewer,
        current_password=GOOD_PASSWORD,
        new_password="a-new-passphrase-1",
    )
    with pytest.raises(InvalidToken, match="revoked"):
        authenticate(session=session, ctx=ctx, token=old_token)
    with pytest.raises(AuthenticationFailed):
        _login(session, ctx)
    assert (
        authenticate(session=session, ctx=ctx, token=_login(session, ctx, password="a-new-passphrase-1"))
        == viewer
    )


def test_role_change_ends_tokens_carrying_the_old_role(
    session: Session, ctx: AuthContext, admin: Principal, viewer: Principal
) -> None:
    token = _login(session, ctx)
    set_role(session=session, ctx=ctx, principal=admin, username="watcher", role="operator")
    with pytest.raises(InvalidToken, match="revoked"):
        authenticate(session=session, ctx=ctx, token=token)
    assert authenticate(session=session, ctx=ctx, token=_login(session, ctx)).roles == ("operator",)


def test_every_attempt_is_recorded(sqlite_session: Session, ctx: AuthContext) -> None:
    make_user(sqlite_session, ctx, "recorded")
    _login(sqlite_session, ctx, "recorded")
    with pytest.raises(AuthenticationFailed):
        _login(sqlite_session, ctx, "recorded", "wrong-password-1")
    with pytest.raises(AuthenticationFailed):
        _login(sqlite_session, ctx, "Ghost", "wrong-password-1")
    rows = sqlite_session.execute(select(LoginAttempt.identifier, LoginAttempt.user_id, LoginAttempt.outcome))
    assert [tuple(row) for row in rows] == [
        (identifier_digest("recorded", secret=SECRET), 1, "success"),
        (identifier_digest("recorded", secret=SECRET), 1, "failure"),
        (identifier_digest("ghost", secret=SECRET), None, "failure"),
    ]
