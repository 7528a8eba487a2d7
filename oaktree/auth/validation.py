"""Field rules for usernames, email addresses and any text that reaches the database."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

USERNAME_MIN, USERNAME_MAX = 3, 100
EMAIL_MAX = 255
_USERNAME_CHARACTERS = re.compile(r"[A-Za-z0-9._-]+")
# Free text (a setting's value) may be several lines; names, keys and identifiers may not.
LINE_BREAKS_AND_TABS = frozenset("\t\n\r")


def control_character_problem(text: str, *, allowed: frozenset[str] = frozenset()) -> str | None:
    """Return why text holding control characters (Unicode category Cc) is unacceptable, or None.

    PostgreSQL cannot store NUL at all, and the others hide or disguise what a name says.
    """
    if any(unicodedata.category(character) == "Cc" and character not in allowed for character in text):
        return "must not contain control characters"
    return None


def username_problem(username: str) -> str | None:
    """Return why a username is unacceptable, or None."""
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        return f"must be {USERNAME_MIN} to {USERNAME_MAX} characters"
    if not _USERNAME_CHARACTERS.fullmatch(username):
        return "may contain only letters, digits, '.', '_' and '-'"
    return None


def normalise_email(email: str) -> tuple[str | None, str | None]:
    """Return (normalised address, None) for a valid address, or (None, why it is invalid).

    Addresses are stored lower-cased: mail providers treat the local part case-insensitively, and
    one person should not hold two accounts that differ only in case.
    """
    try:
        info = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        return None, str(exc)
    normalised = info.normalized.lower()
    if len(normalised) > EMAIL_MAX:
        return None, f"must be at most {EMAIL_MAX} characters"
    return normalised, None
