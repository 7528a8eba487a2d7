"""`make bench`: run every benchmark in turn, after a line naming the machine it ran on."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime

from benchmarks import (
    bench_alerts,
    bench_analytics,
    bench_cli,
    bench_collection,
    bench_dashboard,
    bench_queries,
    bench_rollups,
)


def machine() -> str:
    """Return a one-line description of this machine: CPU, cores, memory, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


# Every benchmark, in the order `make bench` runs them; each module's `main()` prints its tables.
# `make bench ONLY=<module>` (or `python -m benchmarks <module> ...`) runs the named ones only.
BENCHMARKS = (
    bench_cli,
    bench_collection,
    bench_rollups,
    bench_queries,
    bench_alerts,
    bench_dashboard,
    bench_analytics,
)


if __name__ == "__main__":
    # Names pick benchmarks; options (e.g. `bench_dashboard --no-browser`) go to the picked ones.
    wanted = {argument for argument in sys.argv[1:] if not argument.startswith("-")}
    sys.argv = [sys.argv[0], *(argument for argument in sys.argv[1:] if argument.startswith("-"))]
    print(f"# OakTree benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\nMachine: {machine()}\n")
    for module in BENCHMARKS:
        if wanted and module.__name__.rsplit(".", 1)[-1] not in wanted:
            continue
        module.main()
        print()
