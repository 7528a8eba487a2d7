"""Roles, what each may do, and the authenticated caller that every state-changing service checks."""

from __future__ import annotations

import dataclasses
import enum

from oaktree.auth.errors import PermissionDenied


class Role(enum.StrEnum):
    """The three roles the first migration seeds."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    """Things a caller may be allowed to do; services name the one they need."""

    VIEW = "view"
    MANAGE_OWN_ACCOUNT = "manage_own_account"  # own password, own settings, logout
    MANAGE_ALERTS = "manage_alerts"
    ACT_ON_RESOURCES = "act_on_resources"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT_LOG = "view_audit_log"


_VIEWER = frozenset({Permission.VIEW, Permission.MANAGE_OWN_ACCOUNT})
_OPERATOR = _VIEWER | {Permission.MANAGE_ALERTS, Permission.ACT_ON_RESOURCES}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: _OPERATOR,
    Role.ADMIN: _OPERATOR | {Permission.MANAGE_USERS, Permission.VIEW_AUDIT_LOG},
}
ROLE_NAMES = frozenset(role.value for role in Role)


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a verified user, or the system itself (user_id None, e.g. the admin CLI)."""

    user_id: int | None
    username: str
    roles: tuple[str, ...]

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        """Return the principal of trusted local tooling (the CLI runs with database access anyway)."""
        return cls(user_id=None, username=name, roles=(Role.ADMIN.value,))

    @property
    def permissions(self) -> frozenset[Permission]:
        """Return everything the caller's roles allow (unknown role names grant nothing)."""
        granted: set[Permission] = set()
        for name in self.roles:
            if name in ROLE_NAMES:
                granted |= ROLE_PERMISSIONS[Role(name)]
        return frozenset(granted)

    def can(self, permission: Permission) -> bool:
        """Return whether the caller holds the permission."""
        return permission in self.permissions

    @property
    def is_admin(self) -> bool:
        """Return whether the caller has the admin role."""
        return Role.ADMIN.value in self.roles


def require(principal: Principal | None, permission: Permission) -> Principal:
    """Return the principal if it holds the permission, else raise PermissionDenied."""
    if principal is None:
        raise PermissionDenied(f"login required to {permission.value.replace('_', ' ')}")
    if not principal.can(permission):
        raise PermissionDenied(
            f"{principal.username} (roles: {', '.join(principal.roles) or 'none'}) may not "
            f"{permission.value.replace('_', ' ')}"
        )
    return principal
