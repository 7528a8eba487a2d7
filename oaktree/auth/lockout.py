"""The lockout rule: N failed logins within a window lock the account for a while."""

from __future__ import annotations

import dataclasses
import enum
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta


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
