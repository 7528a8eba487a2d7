"""Backtests: how often a rule (saved or only drafted) would have fired over the stored history.

The backtest replays the live engine: the same target expansion, the same warehouse reads and
the same `evaluate`, stepped one period at a time from INSUFFICIENT_DATA, so "it would have
fired 3 times" means exactly what the live pass would have done with that data. Silences are
not replayed (they are about the future); flapping is, and a fire it would have held is counted
apart.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from oaktree.alerts.bands import read_bands
from oaktree.alerts.engine import SeriesKey, Target, expand_targets
from oaktree.alerts.evaluation import PriorState, evaluate, period_start
from oaktree.alerts.rules import AlarmState, Rule
from oaktree.warehouse import read
from oaktree.warehouse.schema import Resolution

MAX_TRANSITIONS_SHOWN = 200


@dataclasses.dataclass
class ResourceBacktest:
    """One resource's replay: how often the rule fired and when, and every transition."""

    resource_id: str
    name: str
    region: str
    fired: int = 0
    fired_while_flapping: int = 0
    fired_at: list[datetime] = dataclasses.field(default_factory=list)
    alarm_periods: int = 0
    transitions: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class BacktestResult:
    """A rule's replay over `start`..`end`."""

    rule: str
    start: datetime
    end: datetime
    resolution: str
    resources: list[ResourceBacktest]

    @property
    def fired(self) -> int:
        return sum(resource.fired for resource in self.resources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "start": self.start,
            "end": self.end,
            "resolution": self.resolution,
            "fired": self.fired,
            "resources": [dataclasses.asdict(resource) for resource in self.resources],
        }


def _resolution(rule: Rule, start: datetime, now: datetime, minute_retention: timedelta) -> Resolution:
    """Return the finest stored resolution that covers the range and fits the rule's period."""
    if rule.is_percentile or start >= now - minute_retention:
        return Resolution.MINUTE
    for resolution in (Resolution.FIVE_MINUTES, Resolution.HOUR, Resolution.DAY):
        if rule.period % int(resolution.width.total_seconds()) == 0:
            return resolution
    return Resolution.MINUTE


def _history(
    connection: duckdb.DuckDBPyConnection,
    targets: list[Target],
    rule: Rule,
    start: datetime,
    end: datetime,
    resolution: Resolution,
) -> dict[SeriesKey, dict[datetime, float]]:
    keys = pd.DataFrame(
        sorted({(t.resource_id, rule.metric_name, rule.source_statistic) for t in targets}),
        columns=["resource_id", "metric_name", "statistic"],
    )
    series: dict[SeriesKey, dict[datetime, float]] = {}
    if keys.empty:
        return series
    if rule.is_percentile:
        frame = read.period_percentiles(
            connection,
            keys=keys,
            start=start,
            end=end,
            period_seconds=rule.period,
            percentiles=[int(rule.statistic[1:])],
        )
        value_column = rule.statistic
    else:
        frame = read.series_for_keys(
            connection, keys=keys, start=start, end=end, resolution=resolution, period_seconds=rule.period
        )
        value_column = "value"
    moments = list(frame["ts"].dt.to_pydatetime()) if not frame.empty else []
    for resource_id, moment, value in zip(frame["resource_id"], moments, frame[value_column], strict=True):
        series.setdefault((resource_id, rule.metric_name, rule.statistic, rule.period), {})[moment] = value
    return series


def backtest(
    rule: Rule,
    connection: duckdb.DuckDBPyConnection,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    minute_retention: timedelta = timedelta(days=15),
) -> BacktestResult:
    """Replay `rule` over `start`..`end` on every resource it covers today; return what it would have done."""
    targets = expand_targets([rule], read.inventory(connection))
    period = timedelta(seconds=rule.period)
    first = period_start(start, period)
    last = period_start(end, period)
    resolution = _resolution(rule, first, now, minute_retention)
    series = _history(connection, targets, rule, first - period * rule.evaluation_range, last, resolution)
    # A band rule is replayed against today's baseline (learned up to `now`).
    bands = read_bands(
        connection,
        targets,
        start_of={rule.period: first - period * rule.evaluation_range},
        end_of={rule.period: last},
        baseline_end=now,
    )
    results = []
    for target in targets:
        values = series.get(target.series_key, {})
        outcome = ResourceBacktest(target.resource_id, target.name, target.region)
        prior = PriorState()
        moment = first + period
        while moment <= last:
            result = evaluate(rule, values, prior, moment, bands=bands.get(target.series_key))
            if result.new_state is AlarmState.ALARM:
                outcome.alarm_periods += 1
            if result.changed:
                if result.new_state is AlarmState.ALARM:
                    outcome.fired += 1
                    outcome.fired_while_flapping += result.flapping
                    outcome.fired_at.append(result.evaluated_at)
                if len(outcome.transitions) < MAX_TRANSITIONS_SHOWN:
                    outcome.transitions.append(
                        {
                            "at": result.evaluated_at,
                            "from": result.previous_state.value,
                            "to": result.new_state.value,
                            "reason": result.reason,
                        }
                    )
            prior = result.as_prior()
            moment += period
        results.append(outcome)
    return BacktestResult(
        rule=rule.name, start=first, end=last, resolution=resolution.value, resources=results
    )
