"""Authentication and role-based access: accounts, login, tokens, password reset, user settings.

Services take a database session, an `AuthContext` (built once by `auth_context(settings)`) and,
when they change state, the calling `Principal`, whose role they check. Each call commits its own
transaction; nothing is stored when one raises.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names resolve on first use (PEP 562), so importing one light module such as
# `oaktree.auth.roles` does not import the token, database and mail layers too: the CLI
# starts in well under a second because of it.
_EXPORTS: dict[str, tuple[str, str]] = {
    "AccountLocked": ("oaktree.auth.errors", "AccountLocked"),
    "AuthContext": ("oaktree.auth.context", "AuthContext"),
    "AuthError": ("oaktree.auth.errors", "AuthError"),
    "AuthenticationFailed": ("oaktree.auth.errors", "AuthenticationFailed"),
    "Clock": ("oaktree.auth.context", "Clock"),
    "InvalidInput": ("oaktree.auth.errors", "InvalidInput"),
    "InvalidToken": ("oaktree.auth.errors", "InvalidToken"),
    "LockoutPolicy": ("oaktree.auth.lockout", "LockoutPolicy"),
    "LoginResult": ("oaktree.auth.sessions", "LoginResult"),
    "Permission": ("oaktree.auth.roles", "Permission"),
    "PermissionDenied": ("oaktree.auth.errors", "PermissionDenied"),
    "PreferenceKey": ("oaktree.auth.preferences", "PreferenceKey"),
    "Preferences": ("oaktree.auth.preferences", "Preferences"),
    "Principal": ("oaktree.auth.roles", "Principal"),
    "Role": ("oaktree.auth.roles", "Role"),
    "Theme": ("oaktree.auth.preferences", "Theme"),
    "TokenClaims": ("oaktree.auth.tokens", "TokenClaims"),
    "TokenSigner": ("oaktree.auth.tokens", "TokenSigner"),
    "UserNotFound": ("oaktree.auth.errors", "UserNotFound"),
    "auth_context": ("oaktree.auth.context", "auth_context"),
    "authenticate": ("oaktree.auth.sessions", "authenticate"),
    "change_password": ("oaktree.auth.users", "change_password"),
    "delete_setting": ("oaktree.auth.preferences", "delete_setting"),
    "delete_user": ("oaktree.auth.users", "delete_user"),
    "get_preferences": ("oaktree.auth.preferences", "get_preferences"),
    "get_settings_map": ("oaktree.auth.preferences", "get_settings_map"),
    "get_user": ("oaktree.auth.users", "get_user"),
    "list_audit_entries": ("oaktree.auth.audit", "list_entries"),
    "list_users": ("oaktree.auth.users", "list_users"),
    "login": ("oaktree.auth.sessions", "login"),
    "logout": ("oaktree.auth.sessions", "logout"),
    "register_user": ("oaktree.auth.users", "register_user"),
    "request_password_reset": ("oaktree.auth.reset", "request_password_reset"),
    "require": ("oaktree.auth.roles", "require"),
    "reset_password": ("oaktree.auth.reset", "reset_password"),
    "resolve_jwt_secret": ("oaktree.auth.tokens", "resolve_jwt_secret"),
    "set_active": ("oaktree.auth.users", "set_active"),
    "set_password": ("oaktree.auth.users", "set_password"),
    "set_preferences": ("oaktree.auth.preferences", "set_preferences"),
    "set_role": ("oaktree.auth.users", "set_role"),
    "set_setting": ("oaktree.auth.preferences", "set_setting"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
