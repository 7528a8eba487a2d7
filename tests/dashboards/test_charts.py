"""Chart helpers: the heatmap moved into the user's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from dashboards import charts


def _week_of_cells() -> pd.DataFrame:
    """Return a UTC heatmap whose every cell's value is its hour of the week (Monday 00:00 = 0)."""
    cells = [(day, hour) for day in range(7) for hour in range(24)]
    return pd.DataFrame(
        {
            "day_of_week": [day for day, _ in cells],
            "day_name": "stale",
            "hour_of_day": [hour for _, hour in cells],
            "value": [float(day * 24 + hour) for day, hour in cells],
        }
    )


def test_cells_move_round_the_week_by_the_zones_offset() -> None:
    moved = charts.heatmap_in_zone(_week_of_cells(), 8).set_index(["day_of_week", "hour_of_day"])
    # Monday 01:00 UTC is Monday 09:00 at UTC+8; Sunday 20:00 UTC is Monday 04:00.
    assert moved.loc[(0, 9), "value"] == 1.0
    assert moved.loc[(0, 4), "value"] == 6 * 24 + 20
    assert len(moved) == 7 * 24
    assert "day_name" not in moved.columns

    behind = charts.heatmap_in_zone(_week_of_cells(), -5).set_index(["day_of_week", "hour_of_day"])
    # Monday 00:00 UTC is Sunday 19:00 at UTC-5.
    assert behind.loc[(6, 19), "value"] == 0.0


def test_only_whole_hour_offsets_map_onto_the_cells() -> None:
    winter = datetime(2026, 1, 15, tzinfo=UTC)
    summer = datetime(2026, 7, 15, tzinfo=UTC)
    assert charts.whole_hour_offset(ZoneInfo("Asia/Singapore"), winter) == 8
    assert charts.whole_hour_offset(ZoneInfo("America/New_York"), winter) == -5
    assert charts.whole_hour_offset(ZoneInfo("America/New_York"), summer) == -4
    assert charts.whole_hour_offset(ZoneInfo("Asia/Kolkata"), winter) is None
