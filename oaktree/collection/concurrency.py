"""How many batches of one region run at once: more only while batches spend their time waiting.

Collection threads exist to overlap AWS's latency (GetMetricData answers in 100-500 ms, each
BatchWriteItem in tens). When a batch's time is its own CPU instead (a fast or local endpoint,
or a run big enough to be bound by parsing and item building), more threads only take turns on
the GIL, and the run gets slower: measured without latency, four threads reached 0.71-0.81x of
one. So a region starts with one batch in flight and the limit follows what batches report:
after a batch that spent less than a quarter of its wall time on its own CPU (waiting dominated),
one more may run, up to the configured threads; after one that spent more, one fewer, down to one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# A batch whose own CPU time is below this share of its wall time was mostly waiting on AWS.
# Against AWS a batch spends about 90 % of its time waiting; a quarter leaves room for time lost
# to the GIL (the store thread) or to a busy host before computing is mistaken for waiting.
WAITING_SHARE = 0.25


class InFlightLimit:
    """A limit on concurrent batches that rises while they wait on the network and falls while they compute.

    Thread-safe. `slot()` blocks until the batch may run, times it, and adjusts the limit.
    """

    def __init__(
        self,
        maximum: int,
        *,
        wall_clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        if maximum < 1:
            raise ValueError("at least one batch must be allowed to run")
        self.maximum = maximum
        self._wall_clock, self._cpu_clock = wall_clock, cpu_clock
        self.limit = 1
        self.peak_in_flight = 0
        self._in_flight = 0
        self._changed = threading.Condition()

    def record(self, *, wall_seconds: float, cpu_seconds: float) -> None:
        """Adjust the limit after a batch that took `wall_seconds`, `cpu_seconds` of them on its own CPU."""
        waiting = wall_seconds > 0 and cpu_seconds < WAITING_SHARE * wall_seconds
        with self._changed:
            self.limit = min(self.maximum, self.limit + 1) if waiting else max(1, self.limit - 1)
            self._changed.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Run the body as one in-flight batch (waiting for room first), then record its timing."""
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight < self.limit)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        wall, cpu = self._wall_clock(), self._cpu_clock()
        try:
            yield
        finally:
            wall, cpu = self._wall_clock() - wall, self._cpu_clock() - cpu
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()
            self.record(wall_seconds=wall, cpu_seconds=cpu)
