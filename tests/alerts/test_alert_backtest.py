"""Backtests replay the live evaluation over stored history: known data, known fires."""

from __future__ import annotations

from datetime import timedelta

import pytest

from oaktree.alerts import service
from oaktree.alerts.rules import InvalidRule
from oaktree.config import Settings
from oaktree.warehouse.rollups import rollup_warehouse
from tests.alerts.conftest import VIEWER
from tests.alerts.estate import API, MINUTE, T0, WEB, cpu_rule, minute_points, save_estate, write

# Two hours from 12:00: WEB runs hot 12:20-12:29 and 13:05-13:09, and blips once at 13:40; API never.
WEB_CPU = [40] * 20 + [95] * 10 + [40] * 35 + [95] * 5 + [40] * 30 + [95] + [40] * 19
END = T0 + 120 * MINUTE


@pytest.fixture
def history(settings: Settings) -> Settings:
    save_estate(settings)
    write(settings, minute_points(WEB, WEB_CPU), minute_points(API, [40] * 120))
    return settings


def test_a_draft_rule_would_have_fired_twice_and_says_when(history: Settings) -> None:
    result = service.backtest_rule(principal=VIEWER, draft=cpu_rule(), settings=history, days=2 / 24, now=END)
    by_resource = {resource.resource_id: resource for resource in result.resources}
    assert result.fired == 2
    # 2 of 3 one-minute periods: the alarm is known when the second breaching minute ends.
    assert by_resource["i-web"].fired_at == [T0 + 22 * MINUTE, T0 + 67 * MINUTE]
    assert by_resource["i-api"].fired == 0
    assert [(t["from"], t["to"]) for t in by_resource["i-web"].transitions] == [
        ("INSUFFICIENT_DATA", "OK"),
        ("OK", "ALARM"),
        ("ALARM", "OK"),
        ("OK", "ALARM"),
        ("ALARM", "OK"),
    ]
    # In ALARM from 12:22 until two of the last three are clear (12:32), and from 13:07 to 13:12;
    # the single-minute blip at 13:40 never fires a 2-of-3 rule.
    assert by_resource["i-web"].alarm_periods == 10 + 5


def test_a_stricter_draft_fires_less(history: Settings) -> None:
    strict = cpu_rule(evaluation_periods=8, datapoints_to_alarm=8)
    result = service.backtest_rule(principal=VIEWER, draft=strict, settings=history, days=2 / 24, now=END)
    assert result.fired == 1
    fired_at = {r["resource_id"]: r["fired_at"] for r in result.to_dict()["resources"]}
    assert fired_at == {"i-api": [], "i-web": [T0 + 28 * MINUTE]}


def test_backtests_of_five_minute_rules_read_the_rollups_beyond_the_minute_retention(
    history: Settings,
) -> None:
    rollup_warehouse(history)
    five_minutes = cpu_rule(period=300, evaluation_periods=1, datapoints_to_alarm=1, threshold=80)
    later = END + timedelta(days=20)
    result = service.backtest_rule(principal=VIEWER, draft=five_minutes, settings=history, days=21, now=later)
    # Twenty days later the 1-minute points are past retention: the 5-minute buckets answer.
    assert (result.resolution, result.fired) == ("5m", 2)
    web = next(resource for resource in result.resources if resource.resource_id == "i-web")
    assert web.fired_at == [T0 + 25 * MINUTE, T0 + 70 * MINUTE]


def test_backtest_refuses_invalid_drafts_and_ranges(history: Settings) -> None:
    with pytest.raises(InvalidRule, match="threshold: is required"):
        service.backtest_rule(principal=VIEWER, draft=cpu_rule(threshold=None), settings=history)
    with pytest.raises(InvalidRule, match="days: must be between 0 and 1825"):
        service.backtest_rule(principal=VIEWER, draft=cpu_rule(), settings=history, days=0)
