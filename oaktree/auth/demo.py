"""Demo accounts for `make demo`: always present, always with freshly printed working passwords."""

from __future__ import annotations

import secrets
from contextlib import nullcontext
from typing import Any

from sqlalchemy.orm import Session

from oaktree.auth.context import AuthContext, auth_context
from oaktree.auth.roles import Principal, Role
from oaktree.auth.users import find_user, register_user, set_active, set_password, set_role
from oaktree.config import Settings
from oaktree.db import session_scope

# Admin first: on an empty database the first account becomes admin anyway.
# One account per role, so a newcomer can try what each sees (operators: resource actions, rules).
DEMO_ACCOUNTS = (("demo-admin", Role.ADMIN), ("demo-operator", Role.OPERATOR), ("demo-viewer", Role.VIEWER))


def generate_password() -> str:
    """Return a random 24-character password (144 bits), well past the policy's minimum."""
    return secrets.token_urlsafe(18)


def ensure_demo_users(
    *, settings: Settings, session: Session | None = None, ctx: AuthContext | None = None
) -> list[dict[str, Any]]:
    """Create the demo accounts (one per role) if missing, else give them new passwords; return them.

    Idempotent: existing accounts are re-enabled and put back in their role, so the printed
    credentials always work. Needs a migrated database.
    """
    ctx = ctx or auth_context(settings)
    system = Principal.system("demo")
    credentials: list[dict[str, Any]] = []
    with nullcontext(session) if session is not None else session_scope(settings=settings) as db:
        for username, role in DEMO_ACCOUNTS:
            password = generate_password()
            user = find_user(db, username)
            if user is None:
                register_user(
                    session=db,
                    ctx=ctx,
                    principal=system,
                    username=username,
                    email=f"{username}@example.com",
                    password=password,
                    role=role,
                )
            else:
                set_password(session=db, ctx=ctx, principal=system, username=username, new_password=password)
                if not user.is_active:
                    set_active(session=db, ctx=ctx, principal=system, username=username, active=True)
                if user.role_names != (role.value,):
                    set_role(session=db, ctx=ctx, principal=system, username=username, role=role)
            credentials.append({"username": username, "password": password, "role": role.value})
    return credentials
