"""Authentication and role-based access: accounts, login, tokens, password reset, user settings.

Services take a database session, an `AuthContext` (built once by `auth_context(settings)`) and,
when they change state, the calling `Principal`, whose role they check. Each call commits its own
transaction; nothing is stored when one raises.
"""

from oaktree.auth.audit import list_entries as list_audit_entries
from oaktree.auth.context import AuthContext, Clock, auth_context
from oaktree.auth.errors import (
    AccountLocked,
    AuthenticationFailed,
    AuthError,
    InvalidInput,
    InvalidToken,
    PermissionDenied,
    UserNotFound,
)
from oaktree.auth.lockout import LockoutPolicy
from oaktree.auth.preferences import (
    PreferenceKey,
    Preferences,
    Theme,
    delete_setting,
    get_preferences,
    get_settings_map,
    set_preferences,
    set_setting,
)
from oaktree.auth.reset import request_password_reset, reset_password
from oaktree.auth.roles import Permission, Principal, Role, require
from oaktree.auth.sessions import LoginResult, authenticate, login, logout
from oaktree.auth.tokens import TokenClaims, TokenSigner, resolve_jwt_secret
from oaktree.auth.users import (
    change_password,
    delete_user,
    get_user,
    list_users,
    register_user,
    set_active,
    set_password,
    set_role,
)

__all__ = [
    "AccountLocked",
    "AuthContext",
    "AuthError",
    "AuthenticationFailed",
    "Clock",
    "InvalidInput",
    "InvalidToken",
    "LockoutPolicy",
    "LoginResult",
    "Permission",
    "PermissionDenied",
    "PreferenceKey",
    "Preferences",
    "Principal",
    "Role",
    "Theme",
    "TokenClaims",
    "TokenSigner",
    "UserNotFound",
    "auth_context",
    "authenticate",
    "change_password",
    "delete_setting",
    "delete_user",
    "get_preferences",
    "get_settings_map",
    "get_user",
    "list_audit_entries",
    "list_users",
    "login",
    "logout",
    "register_user",
    "request_password_reset",
    "require",
    "reset_password",
    "resolve_jwt_secret",
    "set_active",
    "set_password",
    "set_preferences",
    "set_role",
    "set_setting",
]
