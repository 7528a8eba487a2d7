"""Accounts: registration, roles, disabling, deletion and password changes.

Every function that changes state takes the calling `Principal` and checks its role itself, so the
dashboard can rely on these checks rather than on hiding buttons. Each call is one transaction:
validated first, committed at the end, nothing stored when it raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import LoginAttempt, PasswordResetToken, User, UserRole
from models import Role as RoleRow
from oaktree.auth import audit
from oaktree.auth.errors import AuthenticationFailed, InvalidInput, UserNotFound
from oaktree.auth.locking import accounts_locked
from oaktree.auth.lockout import Outcome, identifier_digest
from oaktree.auth.passwords import hash_password, password_problem, verify_password
from oaktree.auth.roles import ROLE_NAMES, Permission, Principal, Role, require
from oaktree.auth.validation import control_character_problem, normalise_email, username_problem
from oaktree.logs import get_logger

if TYPE_CHECKING:
    from oaktree.auth.context import AuthContext

log = get_logger(__name__)


def principal_for(user: User) -> Principal:
    """Return the principal acting as this user, with the roles stored now."""
    return Principal(user_id=user.id, username=user.username, roles=user.role_names)


def describe_user(user: User) -> dict[str, Any]:
    """Return what an admin may see of an account (never the password hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "roles": list(user.role_names),
        "is_admin": bool(user.is_admin),
        "is_active": user.is_active,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }


def find_user(session: Session, identifier: str) -> User | None:
    """Return the user whose username or email is `identifier` (case-insensitive), if any."""
    lowered = identifier.strip().lower()
    return session.scalars(
        select(User).where(or_(func.lower(User.username) == lowered, func.lower(User.email) == lowered))
    ).first()


def _user_named(session: Session, username: str) -> User:
    if problem := control_character_problem(username):
        raise InvalidInput({"username": problem})
    # populate_existing: an object already in the session may hold what an earlier read saw.
    user = session.scalars(
        select(User)
        .where(func.lower(User.username) == username.strip().lower())
        .execution_options(populate_existing=True)
    ).first()
    if user is None:
        raise UserNotFound(f"no user named {username!r}")
    return user


def _parse_role(role: str | Role) -> Role:
    if str(role) not in ROLE_NAMES:
        raise InvalidInput({"role": f"must be one of {', '.join(sorted(ROLE_NAMES))}"})
    return Role(str(role))


def _role_row(session: Session, role: Role) -> RoleRow:
    row = session.scalars(select(RoleRow).where(RoleRow.name == role.value)).first()
    if row is None:
        raise RuntimeError(f"role {role.value!r} is missing; run `oaktree db upgrade`")
    return row


def _assign_role(session: Session, user: User, role: Role) -> None:
    """Make `role` the user's only role and keep the seed's is_admin flag in step with it."""
    user.role_links.clear()
    session.flush()  # delete the old links before inserting, or the composite key may collide
    user.role_links.append(UserRole(role=_role_row(session, role)))
    user.is_admin = role == Role.ADMIN


def _active_admin_ids(session: Session) -> set[int]:
    return set(
        session.scalars(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .join(RoleRow, RoleRow.id == UserRole.role_id)
            .where(RoleRow.name == Role.ADMIN.value, User.is_active.is_(True))
        )
    )


def _guard_last_admin(session: Session, user: User, field: str) -> None:
    """Refuse a change that would leave no active admin (nobody could manage users any more).

    Callers hold the accounts lock, so two such changes at once cannot each count the other's
    admin as still active.
    """
    if _active_admin_ids(session) == {user.id}:
        raise InvalidInput({field: f"{user.username} is the last active admin"})


def register_user(
    *,
    session: Session,
    ctx: AuthContext,
    username: str,
    email: str,
    password: str,
    role: str | Role | None = None,
    principal: Principal | None = None,
) -> User:
    """Create an account and return it.

    Without a principal this is self-registration: the account gets the `viewer` role, except the
    first account of an empty database, which becomes `admin`. Choosing another role, or creating
    accounts while logged in, needs the manage-users permission.
    """
    wanted = _parse_role(role) if role is not None else None
    if principal is not None or (wanted is not None and wanted != Role.VIEWER):
        require(principal, Permission.MANAGE_USERS)

    errors: dict[str, str] = {}
    if problem := username_problem(username):
        errors["username"] = problem
    normalised_email, problem = normalise_email(email)
    if problem:
        errors["email"] = problem
    if problem := password_problem(password, username=username, email=normalised_email or ""):
        errors["password"] = problem
    if errors:
        raise InvalidInput(errors)
    assert normalised_email is not None
    # Hash before taking the lock: bcrypt is the slow part, and registrations wait for the lock.
    password_hash = hash_password(password, rounds=ctx.bcrypt_rounds)

    with accounts_locked(session):
        # Report only what this form needs: whether these two values are free, nothing about others.
        if find_user(session, username) is not None:
            errors["username"] = "is already taken"
        if session.scalar(select(User.id).where(func.lower(User.email) == normalised_email)):
            errors["email"] = "is already registered"
        if errors:
            raise InvalidInput(errors)

        first_user = not session.scalar(select(func.count()).select_from(User))
        final_role = Role.ADMIN if first_user else (wanted or Role.VIEWER)
        now = ctx.now()
        user = User(
            username=username,
            email=normalised_email,
            password_hash=password_hash,
            password_changed_at=now,
        )
        try:
            session.add(user)
            _assign_role(session, user, final_role)
            session.flush()
        except IntegrityError:
            # An account with the same name or address was written without the lock (another tool).
            raise InvalidInput({"username": "or email is already registered"}) from None
        audit.record(
            session,
            actor=principal or Principal(user_id=user.id, username=user.username, roles=()),
            action="user.created",
            target=user.username,
            at=now,
            details={"role": final_role.value, "first_user": first_user},
        )
        session.commit()
    log.info("auth.user_created", user_id=user.id, username=user.username, role=final_role.value)
    return user


def list_users(*, session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Return every account as a dict, ordered by username (admins only)."""
    require(principal, Permission.MANAGE_USERS)
    users = session.scalars(select(User).order_by(func.lower(User.username)))
    return [describe_user(user) for user in users]


def get_user(*, session: Session, principal: Principal, username: str) -> dict[str, Any]:
    """Return one account (admins, or the account's own user)."""
    user = _user_named(session, username)
    if user.id != principal.user_id:
        require(principal, Permission.MANAGE_USERS)
    return describe_user(user)


def set_role(
    *, session: Session, ctx: AuthContext, principal: Principal, username: str, role: str | Role
) -> User:
    """Give the user exactly one role; their existing tokens stop working (they carry the old roles)."""
    require(principal, Permission.MANAGE_USERS)
    new_role = _parse_role(role)
    with accounts_locked(session):
        user = _user_named(session, username)
        old_roles = user.role_names
        if new_role != Role.ADMIN:
            _guard_last_admin(session, user, "role")
        _assign_role(session, user, new_role)
        user.token_version += 1
        audit.record(
            session,
            actor=principal,
            action="user.role_set",
            target=user.username,
            at=ctx.now(),
            details={"from": list(old_roles), "to": new_role.value},
        )
        session.commit()
    log.info("auth.role_set", username=user.username, role=new_role.value, by=principal.username)
    return user


def set_active(
    *, session: Session, ctx: AuthContext, principal: Principal, username: str, active: bool
) -> User:
    """Enable or disable an account; a disabled account cannot log in and its tokens stop working."""
    require(principal, Permission.MANAGE_USERS)
    with accounts_locked(session):
        user = _user_named(session, username)
        if not active:
            _guard_last_admin(session, user, "username")
        if user.is_active != active:
            user.is_active = active
            user.token_version += 1
            audit.record(
                session,
                actor=principal,
                action="user.enabled" if active else "user.disabled",
                target=user.username,
                at=ctx.now(),
            )
        session.commit()
    log.info("auth.user_active_set", username=user.username, active=active, by=principal.username)
    return user


def delete_user(*, session: Session, ctx: AuthContext, principal: Principal, username: str) -> None:
    """Delete an account; its roles, settings, alerts and tokens go with it (ON DELETE CASCADE)."""
    require(principal, Permission.MANAGE_USERS)
    with accounts_locked(session):
        user = _user_named(session, username)
        _guard_last_admin(session, user, "username")
        audit.record(session, actor=principal, action="user.deleted", target=user.username, at=ctx.now())
        session.delete(user)
        session.commit()
    log.info("auth.user_deleted", username=username, by=principal.username)


def store_new_password(session: Session, ctx: AuthContext, user: User, new_password: str) -> None:
    """Set the password, revoke every token and pending reset, and lift any lockout (no commit)."""
    if problem := password_problem(new_password, username=user.username, email=user.email):
        raise InvalidInput({"password": problem})
    now = ctx.now()
    user.password_hash = hash_password(new_password, rounds=ctx.bcrypt_rounds)
    user.password_changed_at = now
    user.token_version += 1
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    session.add(
        LoginAttempt(
            user_id=user.id,
            identifier=identifier_digest(user.username, secret=ctx.signer.secret),
            outcome=Outcome.UNLOCKED,
            at=now,
        )
    )


def change_password(
    *, session: Session, ctx: AuthContext, principal: Principal, current_password: str, new_password: str
) -> None:
    """Change the caller's own password after checking the current one; all their tokens stop working."""
    require(principal, Permission.MANAGE_OWN_ACCOUNT)
    user = session.get(User, principal.user_id) if principal.user_id is not None else None
    if user is None or not verify_password(current_password, user.password_hash):
        raise AuthenticationFailed("the current password is wrong")
    store_new_password(session, ctx, user, new_password)
    audit.record(session, actor=principal, action="user.password_changed", target=user.username, at=ctx.now())
    session.commit()
    log.info("auth.password_changed", username=user.username)


def set_password(
    *, session: Session, ctx: AuthContext, principal: Principal, username: str, new_password: str
) -> None:
    """Set another user's password (admins only); all that user's tokens stop working."""
    require(principal, Permission.MANAGE_USERS)
    user = _user_named(session, username)
    store_new_password(session, ctx, user, new_password)
    audit.record(session, actor=principal, action="user.password_set", target=user.username, at=ctx.now())
    session.commit()
    log.info("auth.password_set", username=user.username, by=principal.username)
