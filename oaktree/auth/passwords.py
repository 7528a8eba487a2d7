"""Password hashing (bcrypt) and the password policy."""

from __future__ import annotations

import functools
from importlib import resources

import bcrypt

MIN_PASSWORD_LENGTH = 12
# bcrypt reads at most 72 bytes; bcrypt 5 refuses longer input rather than silently truncating it.
MAX_PASSWORD_BYTES = 72
PRODUCTION_MIN_ROUNDS = 12


def hash_password(password: str, *, rounds: int) -> str:
    """Return the bcrypt hash (`$2b$<rounds>$...`) of a password."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    """Return whether the password matches the hash (False for input bcrypt cannot take)."""
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:
        # Still spend a bcrypt computation so over-long input is not a faster path.
        bcrypt.checkpw(encoded[:MAX_PASSWORD_BYTES], password_hash.encode())
        return False
    return bcrypt.checkpw(encoded, password_hash.encode())


@functools.cache
def dummy_hash(rounds: int) -> str:
    """Return a hash of a random password at the given cost.

    Login checks the typed password against it when the user does not exist, so an unknown name
    costs the same bcrypt time as a wrong password and timing does not reveal which names exist.
    """
    return hash_password(bcrypt.gensalt().decode(), rounds=rounds)


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list of common passwords, lower-cased."""
    text = resources.files("oaktree.auth").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_problem(password: str, *, username: str = "", email: str = "") -> str | None:
    """Return why a new password is unacceptable, or None if it meets the policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return f"must be at most {MAX_PASSWORD_BYTES} bytes (bcrypt's limit)"
    lowered = password.lower()
    if username and lowered == username.lower():
        return "must not be the username"
    if email and lowered == email.lower():
        return "must not be the email address"
    if lowered in common_passwords():
        return "is too common; choose a less guessable password"
    return None
