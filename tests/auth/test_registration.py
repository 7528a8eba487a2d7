"""Registration: field rules, bcrypt cost, first-user and default roles, duplicates, no partial writes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models import User
from oaktree.auth import (
    AuthContext,
    InvalidInput,
    PermissionDenied,
    Principal,
    auth_context,
    register_user,
)
from oaktree.config import ConfigError, load_settings
from tests.auth.concurrency import run_together
from tests.auth.conftest import GOOD_PASSWORD

RACE_ROUNDS = 5
FIRST_ADMIN_RACE_ROUNDS = 10


def _register(session: Session, ctx: AuthContext, **fields: object) -> User:
    values: dict[str, object] = {
        "username": "newbie",
        "email": "newbie@example.com",
        "password": GOOD_PASSWORD,
    }
    values.update(fields)
    return register_user(session=session, ctx=ctx, **values)  # type: ignore[arg-type]


def _user_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def test_first_user_becomes_admin_and_later_ones_viewers(session: Session, ctx: AuthContext) -> None:
    first = _register(session, ctx, username="founder", email="founder@example.com")
    second = _register(session, ctx, username="second", email="second@example.com")
    assert (first.role_names, first.is_admin) == (("admin",), True)
    assert (second.role_names, second.is_admin) == (("viewer",), False)
    assert first.password_hash.startswith("$2b$04$")  # the tests' cheap cost, from the context


def test_default_settings_hash_with_cost_12(session: Session, settings_without_test_rounds: None) -> None:
    ctx = auth_context(load_settings())
    user = _register(session, ctx)
    assert ctx.bcrypt_rounds == 12
    assert user.password_hash.startswith("$2b$12$")
    assert len(user.password_hash) == 60


def test_production_refuses_a_cost_below_12() -> None:
    with pytest.raises(ConfigError, match="bcrypt_rounds below 12"):
        load_settings(mode="production", jwt_secret="s" * 40, bcrypt_rounds=11)
    with pytest.raises(ConfigError, match="bcrypt cost below 12"):
        AuthContext(signer=auth_context(load_settings()).signer, bcrypt_rounds=11, production=True)


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("ab", "must be 3 to 100 characters"),
        ("a" * 101, "must be 3 to 100 characters"),
        ("has space", "may contain only letters, digits, '.', '_' and '-'"),
        ("émile", "may contain only letters, digits, '.', '_' and '-'"),
        ("robert'); DROP TABLE users;--", "may contain only letters, digits, '.', '_' and '-'"),
    ],
)
def test_invalid_usernames(sqlite_session: Session, ctx: AuthContext, username: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _register(sqlite_session, ctx, username=username)
    assert caught.value.errors == {"username": message}
    assert _user_count(sqlite_session) == 0


def test_accepted_username_characters(sqlite_session: Session, ctx: AuthContext) -> None:
    user = _register(sqlite_session, ctx, username="Ops.Team_1-a", password="a-fine-long-passphrase")
    assert user.username == "Ops.Team_1-a"
    assert _register(sqlite_session, ctx, username="x" * 100, email="long@example.com").username == "x" * 100


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pass1", "must be at least 12 characters"),
        ("newbie-of-oaktree", None),
        ("Newbie", "must be at least 12 characters"),
        ("PassWord1234", "is too common; choose a less guessable password"),
        ("qwertyuiop123", "is too common; choose a less guessable password"),
        ("ä" * 37, "must be at most 72 bytes (bcrypt's limit)"),
    ],
)
def test_password_policy(
    sqlite_session: Session, ctx: AuthContext, password: str, message: str | None
) -> None:
    if message is None:
        assert _register(sqlite_session, ctx, password=password).username == "newbie"
        return
    with pytest.raises(InvalidInput) as caught:
        _register(sqlite_session, ctx, password=password)
    assert caught.value.errors == {"password": message}
    assert _user_count(sqlite_session) == 0


def test_password_must_not_be_the_username_or_email(sqlite_session: Session, ctx: AuthContext) -> None:
    with pytest.raises(InvalidInput) as caught:
        _register(sqlite_session, ctx, username="longusername1", password="LongUserName1")
    assert caught.value.errors == {"password": "must not be the username"}
    with pytest.raises(InvalidInput) as caught:
        _register(sqlite_session, ctx, email="me@example.com", password="ME@example.com")
    assert caught.value.errors == {"password": "must not be the email address"}


def test_every_invalid_field_is_reported_at_once(sqlite_session: Session, ctx: AuthContext) -> None:
    with pytest.raises(InvalidInput) as caught:
        _register(sqlite_session, ctx, username="x", email="not-an-address", password="password")
    assert caught.value.errors == {
        "username": "must be 3 to 100 characters",
        "email": "An email address must have an @-sign.",
        "password": "must be at least 12 characters",
    }
    assert str(caught.value).startswith("username: must be 3 to 100 characters; email: ")


def test_email_is_normalised_to_lower_case(sqlite_session: Session, ctx: AuthContext) -> None:
    assert _register(sqlite_session, ctx, email="New.Bie@Example.COM").email == "new.bie@example.com"


def test_duplicates_are_reported_per_field_without_naming_other_accounts(
    session: Session, ctx: AuthContext
) -> None:
    _register(session, ctx, username="alice", email="alice@example.com")
    with pytest.raises(InvalidInput) as caught:
        _register(session, ctx, username="ALICE", email="fresh@example.com")
    assert caught.value.errors == {"username": "is already taken"}
    with pytest.raises(InvalidInput) as caught:
        _register(session, ctx, username="bob", email="Alice@Example.com")
    assert caught.value.errors == {"email": "is already registered"}
    assert "alice" not in str(caught.value)
    assert _user_count(session) == 1


def test_self_registration_cannot_choose_a_higher_role(
    session: Session, ctx: AuthContext, admin: Principal
) -> None:
    with pytest.raises(PermissionDenied, match="login required"):
        _register(session, ctx, role="operator")
    assert _register(session, ctx, role="viewer").role_names == ("viewer",)


def test_only_admins_create_accounts_for_others(
    session: Session, ctx: AuthContext, admin: Principal, viewer: Principal, operator: Principal
) -> None:
    for caller in (viewer, operator):
        with pytest.raises(PermissionDenied, match="may not manage users"):
            _register(session, ctx, principal=caller, username=f"by-{caller.username}")
    created = _register(session, ctx, principal=admin, role="operator")
    assert created.role_names == ("operator",)
    assert _user_count(session) == 4


def test_unknown_role_is_an_input_error(sqlite_session: Session, ctx: AuthContext) -> None:
    with pytest.raises(InvalidInput) as caught:
        _register(sqlite_session, ctx, role="superuser", principal=Principal.system())
    assert caught.value.errors == {"role": "must be one of admin, operator, viewer"}


def _registration(ctx: AuthContext, username: str, email: str) -> Callable[[Session], str]:
    return lambda racing: _register(racing, ctx, username=username, email=email).username


def test_names_differing_only_in_case_race_to_one_account(
    db_url: str, session: Session, ctx: AuthContext, admin: Principal
) -> None:
    for round_number in range(RACE_ROUNDS):
        spellings = (f"mallory-{round_number}", f"Mallory-{round_number}")
        outcomes = run_together(
            db_url,
            [
                _registration(ctx, name, f"spelling-{number}-{round_number}@example.com")
                for number, name in enumerate(spellings)
            ],
        )
        winners = [outcome for outcome in outcomes if isinstance(outcome, str)]
        losers = [outcome for outcome in outcomes if isinstance(outcome, InvalidInput)]
        assert len(winners) == len(losers) == 1, (round_number, outcomes)
        stored = session.scalars(select(User.username).where(func.lower(User.username) == spellings[0])).all()
        assert stored == winners, round_number


def test_concurrent_first_registrations_make_exactly_one_admin(
    db_url: str, session: Session, ctx: AuthContext
) -> None:
    for round_number in range(FIRST_ADMIN_RACE_ROUNDS):
        session.execute(delete(User))
        session.commit()
        names = [f"first-{round_number}-{number}" for number in range(2)]
        outcomes = run_together(db_url, [_registration(ctx, name, f"{name}@example.com") for name in names])
        assert sorted(outcomes) == names, round_number
        admins = session.scalars(select(User.username).where(User.is_admin.is_(True))).all()
        assert len(admins) == 1, (round_number, admins)
