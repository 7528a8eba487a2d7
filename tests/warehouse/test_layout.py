"""Partition paths, time ranges and listing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from oaktree.warehouse import layout
from oaktree.warehouse.layout import Resolution


@pytest.mark.parametrize(
    ("resolution", "relative", "start", "end"),
    [
        (
            Resolution.MINUTE,
            "resolution=1m/region=us-east-1/date=2024-12-31/hour=23",
            datetime(2024, 12, 31, 23, tzinfo=UTC),
            datetime(2025, 1, 1, tzinfo=UTC),
        ),
        (
            Resolution.FIVE_MINUTES,
            "resolution=5m/region=us-east-1/date=2024-12-31",
            datetime(2024, 12, 31, tzinfo=UTC),
            datetime(2025, 1, 1, tzinfo=UTC),
        ),
        (
            Resolution.HOUR,
            "resolution=1h/region=us-east-1/month=2024-12",
            datetime(2024, 12, 1, tzinfo=UTC),
            datetime(2025, 1, 1, tzinfo=UTC),
        ),
        (
            Resolution.DAY,
            "resolution=1d/region=us-east-1/year=2024",
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2025, 1, 1, tzinfo=UTC),
        ),
    ],
)
def test_partition_for_gives_path_and_time_range(
    tmp_path: Path, resolution: Resolution, relative: str, start: datetime, end: datetime
) -> None:
    partition = layout.partition_for(
        tmp_path, resolution, "us-east-1", datetime(2024, 12, 31, 23, 59, tzinfo=UTC)
    )

    assert partition.directory == tmp_path / "metrics" / relative
    assert (partition.start, partition.end) == (start, end)


def test_month_partition_ends_at_next_month() -> None:
    assert layout.partition_end(Resolution.HOUR, datetime(2024, 1, 1, tzinfo=UTC)) == datetime(
        2024, 2, 1, tzinfo=UTC
    )


def test_list_partitions_parses_paths_and_ignores_other_files(tmp_path: Path) -> None:
    for moment in (datetime(2024, 3, 1, 5, tzinfo=UTC), datetime(2024, 3, 2, 0, tzinfo=UTC)):
        directory = layout.partition_for(tmp_path, Resolution.MINUTE, "eu-west-1", moment).directory
        directory.mkdir(parents=True)
        (directory / layout.version_name(1)).write_bytes(b"")
    root = layout.resolution_dir(tmp_path, Resolution.MINUTE)
    (root / layout.EMPTY_FILE).write_bytes(b"")
    (root / "region=eu-west-1" / "not-a-partition").mkdir()

    found = list(layout.list_partitions(tmp_path, Resolution.MINUTE))

    assert [(p.region, p.start, p.end) for p in found] == [
        ("eu-west-1", datetime(2024, 3, 1, 5, tzinfo=UTC), datetime(2024, 3, 1, 6, tzinfo=UTC)),
        ("eu-west-1", datetime(2024, 3, 2, 0, tzinfo=UTC), datetime(2024, 3, 2, 1, tzinfo=UTC)),
    ]


@pytest.mark.parametrize("region", ["../etc", "US-EAST-1", "", "a/b"])
def test_region_names_that_are_not_safe_folder_names_are_refused(region: str) -> None:
    with pytest.raises(ValueError, match="not a valid region name"):
        layout.check_region(region)


def test_version_names_sort_in_time_order_and_round_trip() -> None:
    names = [layout.version_name(ns) for ns in (9, 10, 1_700_000_000_000_000_000)]
    assert names == sorted(names)
    assert layout.version_ns(Path(names[2])) == 1_700_000_000_000_000_000


def test_view_names_per_resolution() -> None:
    assert [r.view for r in Resolution] == ["metrics", "metrics_5m", "metrics_1h", "metrics_1d"]
