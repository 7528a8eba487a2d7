"""Errors of the auth services; every message is one line that is safe to show the person who acted."""

from __future__ import annotations


class AuthError(Exception):
    """Base of every auth error (the CLI turns these into one-line errors with exit code 2)."""


class InvalidInput(AuthError):
    """One or more fields are invalid; `errors` maps each field to a message for that field."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


class PermissionDenied(AuthError):
    """The caller's roles do not allow the action."""


class UserNotFound(AuthError):
    """No user has the given name (only raised to callers already allowed to list users)."""


class AuthenticationFailed(AuthError):
    """Login refused. The message never says whether the account exists."""


class AccountLocked(AuthenticationFailed):
    """Too many failed attempts; `retry_after_seconds` says when login may be tried again."""

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(f"too many failed attempts; try again in {minutes} minute(s)")


class InvalidToken(AuthError):
    """A session token or a password-reset token is not (or no longer) valid."""
