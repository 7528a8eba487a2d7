"""The token bucket: rate, burst, backing off on throttling, one bucket per (region, API)."""

from __future__ import annotations

import threading

import pytest

from oaktree.collection.ratelimit import TokenBucket, limiter_for


class FakeClock:
    """A clock that only moves when slept on, so waits are exact."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_burst_then_one_request_per_interval() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)

    waits = [bucket.acquire() for _ in range(13)]

    assert waits[:10] == [0.0] * 10
    assert waits[10:] == pytest.approx([0.1, 0.1, 0.1])
    assert clock.now == pytest.approx(100.3)


def test_throttling_halves_the_rate_and_successes_earn_it_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(40, clock=clock, sleep=clock.sleep)

    bucket.on_throttle()
    bucket.on_throttle()
    assert bucket.rate == 10
    for _ in range(10):
        bucket.on_success()
    assert bucket.rate == 30
    for _ in range(10):
        bucket.on_success()
    assert bucket.rate == 40
    for _ in range(20):
        bucket.on_throttle()
    assert bucket.rate == 2  # never below 5% of the budget


def test_threads_share_one_bucket_per_region_and_api() -> None:
    first = limiter_for("us-east-1", "GetMetricData", 40)
    assert limiter_for("us-east-1", "GetMetricData", 40) is first
    assert limiter_for("ap-southeast-1", "GetMetricData", 40) is not first
    assert limiter_for("us-east-1", "BatchWriteItem", 40) is not first
    assert limiter_for("us-east-1", "GetMetricData", 20).target_rate == 20


def test_concurrent_callers_never_exceed_the_rate() -> None:
    clock = FakeClock()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.slept.append(seconds)

    bucket = TokenBucket(5, burst=5, clock=clock, sleep=sleep)
    threads = [threading.Thread(target=bucket.acquire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # With the clock frozen, 5 tokens were free and the other 15 callers queued 0.2 s apart.
    assert sorted(clock.slept) == pytest.approx([0.2 * n for n in range(1, 16)])
