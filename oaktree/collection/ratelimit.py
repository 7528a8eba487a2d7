"""One token bucket per (account and region, API), shared by every thread of the process.

Incumbent exporters limit concurrency per job x region, so their real request rate multiplies
and AWS throttles them. Here every caller of an API in a region draws from the same bucket. On
throttling the bucket halves its rate, then earns it back a little with every success (AIMD), so
a shared quota that other tools also use is respected without manual tuning.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# The rate never drops below this share of the configured budget, so collection keeps moving.
_MIN_RATE_SHARE = 0.05
# Share of the configured budget earned back per successful call after a throttle.
_RECOVERY_SHARE = 0.05


class TokenBucket:
    """A thread-safe token bucket: `acquire` blocks until the caller may make one request."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.target_rate = rate
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._updated = clock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; return the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            # Reserve the token now (the balance may go negative) so waiters queue fairly.
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            self._sleep(wait)
        return wait

    def on_throttle(self) -> None:
        """Halve the rate after AWS throttled a request."""
        with self._lock:
            self.rate = max(self.target_rate * _MIN_RATE_SHARE, self.rate / 2)

    def on_success(self) -> None:
        """Earn back part of the budget after a request went through."""
        if self.rate < self.target_rate:
            with self._lock:
                self.rate = min(self.target_rate, self.rate + self.target_rate * _RECOVERY_SHARE)

    def set_target(self, rate: float) -> None:
        """Change the configured budget (settings may differ between runs of one process)."""
        with self._lock:
            recovering = self.rate < self.target_rate
            self.target_rate = rate
            self.rate = min(self.rate, rate) if recovering else rate
            self.burst = max(1.0, rate)


_buckets: dict[tuple[str, str], TokenBucket] = {}
_registry_lock = threading.Lock()


def limiter_for(region: str, api: str, rate: float) -> TokenBucket:
    """Return the process-wide bucket of one API in one region, created at `rate` on first use.

    `region` is `<account>/<region>` for a configured account (AWS quotas are per account and region).
    """
    with _registry_lock:
        bucket = _buckets.get((region, api))
        if bucket is None:
            bucket = _buckets[(region, api)] = TokenBucket(rate)
        elif bucket.target_rate != rate:
            bucket.set_target(rate)
        return bucket


def reset_limiters() -> None:
    """Forget every bucket (tests start from full buckets)."""
    with _registry_lock:
        _buckets.clear()
