"""`make demo`'s accounts: created once, then given fresh working passwords on every run."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import User
from oaktree import db
from oaktree.auth import AuthContext, AuthenticationFailed, login, set_active, set_role
from oaktree.auth.demo import ensure_demo_users
from oaktree.auth.roles import Principal
from oaktree.config import Settings


def test_demo_users_are_created_and_their_passwords_work(
    session: Session, ctx: AuthContext, settings: Settings
) -> None:
    first = ensure_demo_users(settings=settings, session=session, ctx=ctx)
    assert [(c["username"], c["role"]) for c in first] == [
        ("demo-admin", "admin"),
        ("demo-operator", "operator"),
        ("demo-viewer", "viewer"),
    ]
    for credentials in first:
        assert len(credentials["password"]) == 24
        result = login(
            session=session, ctx=ctx, identifier=credentials["username"], password=credentials["password"]
        )
        assert result.principal.roles == (credentials["role"],)

    # Break the viewer account, then run again: everything is put back, with new passwords.
    system = Principal.system()
    set_role(session=session, ctx=ctx, principal=system, username="demo-viewer", role="operator")
    set_active(session=session, ctx=ctx, principal=system, username="demo-viewer", active=False)
    second = ensure_demo_users(settings=settings, session=session, ctx=ctx)
    assert session.scalar(select(func.count()).select_from(User)) == 3
    for old, new in zip(first, second, strict=True):
        assert old["password"] != new["password"]
        with pytest.raises(AuthenticationFailed):
            login(session=session, ctx=ctx, identifier=old["username"], password=old["password"])
        result = login(session=session, ctx=ctx, identifier=new["username"], password=new["password"])
        assert result.principal.roles == (new["role"],)


def test_demo_users_on_the_configured_database(settings: Settings) -> None:
    db.upgrade(settings.sqlalchemy_url)
    credentials = ensure_demo_users(settings=settings)
    with db.session_scope(settings=settings) as session:
        names = session.scalars(select(User.username).order_by(User.id)).all()
    assert names == ["demo-admin", "demo-operator", "demo-viewer"] == [c["username"] for c in credentials]
    db.dispose_engines()
