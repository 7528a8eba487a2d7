"""The lockout rule: N failed logins within a window lock the account for a while; and the key
under which attempts against names that match no account are counted."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta

IDENTIFIER_MAX = 255
# The digest key is derived from the JWT signing secret under this label of its own, so a digest
# can never serve as a token signature or any other use of that secret.
IDENTIFIER_KEY_LABEL = b"oaktree/login_attempts.identifier/v1"


class Outcome(enum.StrEnum):
    """What a row of `login_attempts` records."""

    SUCCESS = "success"
    FAILURE = "failure"
    LOCKED = "locked"  # refused because the account was locked; does not extend the lock
    UNLOCKED = "unlocked"  # a password reset cleared the failures and any lock


@dataclasses.dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """`attempts` failures within `window` lock the account for `duration`."""

    attempts: int = 5
    window: timedelta = timedelta(minutes=15)
    duration: timedelta = timedelta(minutes=15)

    @property
    def lookback(self) -> timedelta:
        """Return how far back attempts can still matter: the failures of a lock still in force."""
        return self.window + self.duration


def locked_until(
    attempts: Iterable[tuple[datetime, str]], *, policy: LockoutPolicy, now: datetime
) -> datetime | None:
    """Return when the lock in force at `now` ends, or None if the account is not locked.

    `attempts` are (time, outcome) pairs in time order. A success or unlock clears the failures;
    the failure that brings the count within the window to `policy.attempts` starts a lock.
    """
    failures: deque[datetime] = deque()
    lock_end: datetime | None = None
    for at, outcome in attempts:
        if outcome in {Outcome.SUCCESS, Outcome.UNLOCKED}:
            failures.clear()
            if outcome == Outcome.UNLOCKED:
                lock_end = None
        elif outcome == Outcome.FAILURE:
            if lock_end is not None and at < lock_end:
                continue
            failures.append(at)
            while failures and failures[0] <= at - policy.window:
                failures.popleft()
            if len(failures) >= policy.attempts:
                lock_end = at + policy.duration
                failures.clear()
    return lock_end if lock_end is not None and lock_end > now else None


def normalise_identifier(identifier: str) -> str:
    """Return a typed username or email as login matches it: trimmed, lower-cased, length-capped."""
    return identifier.strip().lower()[:IDENTIFIER_MAX]


def identifier_digest(identifier: str, *, secret: str) -> str:
    """Return what `login_attempts.identifier` stores for a typed name: HMAC-SHA256 (hex) of its
    normalised form, keyed from the signing secret.

    Never what was typed, which may be a password typed into the wrong box; keyed, so a copy of
    the table does not let anyone test guesses. A new signing secret only forgets the recent
    failures of names that match no account (an account's attempts count by its id).
    """
    key = hmac.new(secret.encode(), IDENTIFIER_KEY_LABEL, hashlib.sha256).digest()
    return hmac.new(key, normalise_identifier(identifier).encode(), hashlib.sha256).hexdigest()
