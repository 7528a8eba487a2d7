"""The in-flight limit: one batch at a time while batches compute, more while they wait on AWS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from oaktree.collection.concurrency import InFlightLimit


def test_waiting_batches_raise_the_limit_to_the_maximum_and_computing_ones_lower_it() -> None:
    limit = InFlightLimit(4)
    assert limit.limit == 1

    for expected in (2, 3, 4, 4):
        limit.record(wall_seconds=0.3, cpu_seconds=0.01)  # a GetMetricData round trip
        assert limit.limit == expected
    for expected in (3, 2, 1, 1):
        limit.record(wall_seconds=0.3, cpu_seconds=0.29)  # parsing and item building
        assert limit.limit == expected


def test_at_least_one_batch_runs() -> None:
    with pytest.raises(ValueError, match="at least one"):
        InFlightLimit(0)


def _run_batches(limit: InFlightLimit, work: Callable[[], None], batches: int = 24) -> None:
    def one(_: int) -> None:
        with limit.slot():
            work()

    with ThreadPoolExecutor(max_workers=limit.maximum) as pool:
        list(pool.map(one, range(batches)))


def test_batches_that_wait_run_side_by_side() -> None:
    limit = InFlightLimit(4)

    _run_batches(limit, lambda: time.sleep(0.02))

    assert limit.peak_in_flight == 4


def test_batches_that_compute_run_one_at_a_time() -> None:
    # Their CPU time is their wall time (measured by one clock, so a busy test host cannot make
    # computing look like waiting).
    limit = InFlightLimit(4, cpu_clock=time.perf_counter)
    running, overlapped = [0], threading.Event()
    guard = threading.Lock()

    def compute() -> None:
        with guard:
            running[0] += 1
            if running[0] > 1:
                overlapped.set()
        deadline = time.perf_counter() + 0.01
        while time.perf_counter() < deadline:  # pure CPU, no waiting
            pass
        with guard:
            running[0] -= 1

    _run_batches(limit, compute)

    assert limit.peak_in_flight == 1
    assert not overlapped.is_set()
