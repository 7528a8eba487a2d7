"""Role checks on every state-changing service, and is_admin kept in step with the admin role."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AuditEntry, User
from oaktree.auth import (
    AuthContext,
    InvalidInput,
    Permission,
    PermissionDenied,
    Principal,
    Role,
    delete_setting,
    delete_user,
    get_user,
    list_audit_entries,
    list_users,
    register_user,
    require,
    set_active,
    set_password,
    set_preferences,
    set_role,
    set_setting,
)
from oaktree.auth.roles import ROLE_PERMISSIONS
from tests.auth.concurrency import run_together
from tests.auth.conftest import make_user

LAST_ADMIN_RACE_ROUNDS = 6

Action = Callable[[Session, AuthContext, Principal, Principal], Any]

# Every state-changing service that needs more than the caller's own account, called on someone else.
ADMIN_ONLY_ACTIONS: dict[str, Action] = {
    "register_user": lambda s, c, p, other: register_user(
        session=s,
        ctx=c,
        principal=p,
        username="created",
        email="created@example.com",
        password="a-long-enough-pw",
    ),
    "set_role": lambda s, c, p, other: set_role(
        session=s, ctx=c, principal=p, username=other.username, role="admin"
    ),
    "disable": lambda s, c, p, other: set_active(
        session=s, ctx=c, principal=p, username=other.username, active=False
    ),
    "delete_user": lambda s, c, p, other: delete_user(session=s, ctx=c, principal=p, username=other.username),
    "set_password": lambda s, c, p, other: set_password(
        session=s, ctx=c, principal=p, username=other.username, new_password="a-long-enough-pw"
    ),
    "set_setting of another user": lambda s, c, p, other: set_setting(
        session=s, ctx=c, principal=p, user_id=other.user_id, key="theme", value="dark"
    ),
    "delete_setting of another user": lambda s, c, p, other: delete_setting(
        session=s, ctx=c, principal=p, user_id=other.user_id, key="theme"
    ),
    "set_preferences of another user": lambda s, c, p, other: set_preferences(
        session=s, ctx=c, principal=p, user_id=other.user_id, theme="dark"
    ),
    "list_users": lambda s, c, p, other: list_users(session=s, principal=p),
    "get_user of another user": lambda s, c, p, other: get_user(
        session=s, principal=p, username=other.username
    ),
    "list_audit_entries": lambda s, c, p, other: list_audit_entries(session=s, principal=p),
}


def _fingerprint(session: Session) -> tuple[int, int, list[tuple[str, bool | None, bool, int]]]:
    users = session.execute(
        select(User.username, User.is_admin, User.is_active, User.token_version).order_by(User.id)
    )
    return (
        session.scalar(select(func.count()).select_from(User)) or 0,
        session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        [tuple(row) for row in users],  # type: ignore[misc]
    )


def test_viewers_and_operators_are_refused_and_nothing_changes(
    session: Session, ctx: AuthContext, admin: Principal, viewer: Principal, operator: Principal
) -> None:
    for number, (name, action) in enumerate(ADMIN_ONLY_ACTIONS.items()):
        target = make_user(session, ctx, f"target-{number}", "viewer")
        before = _fingerprint(session)
        for caller in (viewer, operator):
            with pytest.raises(
                PermissionDenied, match=f"{caller.username} \\(roles: {caller.roles[0]}\\) may not"
            ):
                action(session, ctx, caller, target)
            session.expire_all()
            assert _fingerprint(session) == before, (name, caller.username)
        action(session, ctx, admin, target)  # the admin may


def test_no_principal_is_refused(sqlite_session: Session, ctx: AuthContext) -> None:
    with pytest.raises(PermissionDenied, match="login required to manage alerts"):
        require(None, Permission.MANAGE_ALERTS)


def test_role_permissions() -> None:
    assert Principal(1, "o", ("operator",)).can(Permission.MANAGE_ALERTS)
    assert Principal(1, "o", ("operator",)).can(Permission.ACT_ON_RESOURCES)
    assert not Principal(1, "o", ("operator",)).can(Permission.MANAGE_USERS)
    assert not Principal(1, "v", ("viewer",)).can(Permission.MANAGE_ALERTS)
    assert Principal(1, "v", ("viewer",)).permissions == {Permission.VIEW, Permission.MANAGE_OWN_ACCOUNT}
    assert Principal(1, "x", ("made-up",)).permissions == frozenset()
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert Principal.system().is_admin


def test_is_admin_follows_the_admin_role(
    session: Session, ctx: AuthContext, admin: Principal, viewer: Principal
) -> None:
    promoted = set_role(session=session, ctx=ctx, principal=admin, username="watcher", role="admin")
    assert (promoted.role_names, promoted.is_admin) == (("admin",), True)
    demoted = set_role(session=session, ctx=ctx, principal=admin, username="watcher", role=Role.OPERATOR)
    assert (demoted.role_names, demoted.is_admin) == (("operator",), False)
    entries = list_audit_entries(session=session, principal=admin)
    assert [(e["action"], e["target"], e["details"]) for e in entries[:2]] == [
        ("user.role_set", "watcher", {"from": ["admin"], "to": "operator"}),
        ("user.role_set", "watcher", {"from": ["viewer"], "to": "admin"}),
    ]
    assert entries[0]["actor"] == "root-admin" and entries[0]["user_id"] == admin.user_id


def test_the_last_active_admin_cannot_be_removed(
    session: Session, ctx: AuthContext, admin: Principal
) -> None:
    for change in (
        lambda: set_role(session=session, ctx=ctx, principal=admin, username="root-admin", role="viewer"),
        lambda: set_active(session=session, ctx=ctx, principal=admin, username="root-admin", active=False),
        lambda: delete_user(session=session, ctx=ctx, principal=admin, username="root-admin"),
    ):
        with pytest.raises(InvalidInput, match="root-admin is the last active admin"):
            change()
    make_user(session, ctx, "second-admin", "admin")
    set_role(session=session, ctx=ctx, principal=admin, username="root-admin", role="viewer")


def test_users_see_their_own_account(session: Session, ctx: AuthContext, viewer: Principal) -> None:
    own = get_user(session=session, principal=viewer, username="watcher")
    assert (own["username"], own["roles"], own["is_admin"]) == ("watcher", ["viewer"], False)
    assert "password_hash" not in own


def _disable(ctx: AuthContext, username: str, racing: Session) -> Any:
    return set_active(session=racing, ctx=ctx, principal=Principal.system(), username=username, active=False)


def _demote(ctx: AuthContext, username: str, racing: Session) -> Any:
    return set_role(session=racing, ctx=ctx, principal=Principal.system(), username=username, role="viewer")


def _delete(ctx: AuthContext, username: str, racing: Session) -> Any:
    return delete_user(session=racing, ctx=ctx, principal=Principal.system(), username=username)


def _active_admins(session: Session) -> list[str]:
    admins = session.scalars(select(User).where(User.is_active.is_(True)))
    return sorted(user.username for user in admins if "admin" in user.role_names)


def test_removing_the_last_two_admins_at_once_leaves_one(
    db_url: str, session: Session, ctx: AuthContext, admin: Principal
) -> None:
    removals = [(_disable, _disable), (_demote, _disable), (_delete, _demote)]
    for round_number in range(LAST_ADMIN_RACE_ROUNDS):
        pair = [f"admin-{round_number}-{number}" for number in range(2)]
        for username in pair:
            make_user(session, ctx, username, "admin")
        for username in _active_admins(session):
            if username not in pair:
                _disable(ctx, username, session)
        assert _active_admins(session) == pair

        first, second = removals[round_number % len(removals)]
        outcomes = run_together(db_url, [partial(first, ctx, pair[0]), partial(second, ctx, pair[1])])

        refusals = [str(outcome) for outcome in outcomes if isinstance(outcome, InvalidInput)]
        assert len(refusals) == 1, (round_number, outcomes)
        assert "is the last active admin" in refusals[0]
        session.expire_all()
        assert len(_active_admins(session)) == 1, round_number
