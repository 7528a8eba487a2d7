"""SQL-injection strings in every text field: stored verbatim, or refused by validation, never executed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from models import Alert, AuditEntry, User
from oaktree import db
from oaktree.auth import (
    AuthContext,
    AuthenticationFailed,
    InvalidInput,
    InvalidToken,
    Principal,
    authenticate,
    delete_setting,
    get_settings_map,
    get_user,
    login,
    register_user,
    request_password_reset,
    reset_password,
    set_setting,
)
from oaktree.auth.audit import record

INJECTIONS = [
    "'; DROP TABLE users; --",
    "' OR '1'='1",
    '"; DELETE FROM settings WHERE ""="',
    "1; UPDATE users SET is_admin = true; --",
    "%' UNION SELECT password_hash FROM users --",
    "\\'; SELECT pg_sleep(5); --",
]
TABLES = {
    "users",
    "roles",
    "user_roles",
    "settings",
    "alerts",
    "audit_log",
    "login_attempts",
    "revoked_tokens",
    "password_reset_tokens",
    "alembic_version",
    # The alert engine's (migration 0003).
    "notification_channels",
    "alert_channels",
    "alert_states",
    "alert_transitions",
    "alert_notifications",
    "alert_delivery_attempts",
    "alert_silences",
}


def test_injection_strings_are_harmless_everywhere(
    session: Session, db_url: str, ctx: AuthContext, admin: Principal
) -> None:
    # Password: any characters are allowed and only the hash is stored.
    password = "x" + INJECTIONS[0] + "x"
    user = register_user(
        session=session,
        ctx=ctx,
        username="plain-user",
        # Apostrophes and dashes are legal in an address's local part: kept verbatim.
        email="o'brien--x@example.com",
        password=password,
    )
    assert user.email == "o'brien--x@example.com"
    assert (
        login(
            session=session, ctx=ctx, identifier="O'Brien--x@example.com", password=password
        ).principal.username
        == "plain-user"
    )
    me = Principal(user.id, user.username, user.role_names)

    # Username: refused by validation with a clear message.
    for text in INJECTIONS:
        with pytest.raises(InvalidInput, match="username: may contain only"):
            register_user(
                session=session, ctx=ctx, username=text, email="other@example.com", password=password
            )
        # Login identifier and password: just a failed login.
        with pytest.raises(AuthenticationFailed, match="invalid username/email or password"):
            login(session=session, ctx=ctx, identifier=text, password=text)
        with pytest.raises(InvalidToken):
            authenticate(session=session, ctx=ctx, token=text)
        with pytest.raises(InvalidToken):
            reset_password(session=session, ctx=ctx, token=text, new_password="a-new-long-password")
        with pytest.raises(InvalidInput):
            request_password_reset(session=session, ctx=ctx, email=text)

    # Settings keys and values, audit details and alert fields: stored exactly as given.
    for number, text in enumerate(INJECTIONS):
        set_setting(session=session, ctx=ctx, principal=me, key=text, value=text + str(number))
    assert get_settings_map(session=session, principal=me) == {
        text: text + str(number) for number, text in enumerate(INJECTIONS)
    }
    for text in INJECTIONS:
        record(session, actor=me, action=text[:100], target=text, at=ctx.now(), details={"value": text})
        session.add(
            Alert(
                user_id=user.id,
                resource_type=text[:50],
                resource_id=text,
                metric_name=text,
                threshold=Decimal("1.5"),
                comparison_operator=text[:20],
            )
        )
    session.commit()
    assert sorted(session.scalars(select(Alert.resource_id))) == sorted(INJECTIONS)
    details = session.scalars(select(AuditEntry.details).where(AuditEntry.target.in_(INJECTIONS)))
    assert sorted(entry["value"] for entry in details) == sorted(INJECTIONS)

    # Nothing was dropped, deleted or escalated.
    assert set(inspect(db.engine_for(db_url)).get_table_names()) == TABLES
    assert session.scalar(select(func.count()).select_from(User)) == 2
    assert session.scalars(select(User.username).where(User.is_admin.is_(True))).all() == ["root-admin"]


# NUL is what PostgreSQL cannot store at all; the others are examples of C0, DEL and C1 controls.
CONTROL_CHARACTERS = ["\x00", "\x1b", "\x7f", "\x85"]


@pytest.mark.parametrize("control", CONTROL_CHARACTERS, ids=repr)
def test_control_characters_are_refused_with_a_clear_error(
    session: Session, ctx: AuthContext, admin: Principal, control: str
) -> None:
    refusals = [
        (
            "identifier",
            lambda: login(
                session=session, ctx=ctx, identifier=f"root{control}-admin", password="any-password-123"
            ),
        ),
        ("key", lambda: set_setting(session=session, ctx=ctx, principal=admin, key=f"k{control}", value="v")),
        (
            "value",
            lambda: set_setting(session=session, ctx=ctx, principal=admin, key="note", value=f"a{control}b"),
        ),
        ("key", lambda: delete_setting(session=session, ctx=ctx, principal=admin, key=f"k{control}")),
        ("username", lambda: get_user(session=session, principal=admin, username=f"root{control}-admin")),
    ]
    for field, refused in refusals:
        with pytest.raises(InvalidInput) as caught:
            refused()
        assert caught.value.errors == {field: "must not contain control characters"}
    assert get_settings_map(session=session, principal=admin) == {}


def test_line_breaks_and_tabs_are_kept_in_setting_values(
    session: Session, ctx: AuthContext, admin: Principal
) -> None:
    set_setting(session=session, ctx=ctx, principal=admin, key="note", value="one\r\ntwo\tthree\n")
    assert get_settings_map(session=session, principal=admin) == {"note": "one\r\ntwo\tthree\n"}
