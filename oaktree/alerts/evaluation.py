"""The one evaluation function: (rule, datapoints, prior state, now) -> new state, reason, datapoints used.

The live pass, its retries and re-runs, and the backtest all call `evaluate`; it reads no clock,
no database and no warehouse, so the same inputs always give the same answer, and re-evaluating
a window that was already evaluated can never fire again.

CloudWatch's semantics, as its documentation states them:
- Only settled periods count: a period is evaluated once it ended at least `settle` before `now`.
- The evaluation range is N + 2 periods. If it holds at least N real datapoints, the newest N are
  evaluated and the missing-data treatment is not used. Otherwise every real datapoint in the
  range is evaluated, and with `breaching`/`notBreaching` the gaps are filled up to N (as few
  fills as possible). ALARM when at least M of the evaluated datapoints breach (not necessarily
  consecutive), else OK.
- With `missing` and too few real datapoints: no datapoint at all is INSUFFICIENT_DATA; M
  breaching is ALARM; any non-breaching datapoint is OK; only breaching ones (fewer than M) is
  ALARM if the oldest of them is at least M periods old (it cannot be a premature blip), else
  INSUFFICIENT_DATA. `ignore` does the same but keeps the current state where `missing` would
  go to INSUFFICIENT_DATA or decide from that oldest breaching datapoint.

Beyond CloudWatch, per rule: recovery hysteresis (an alarm ends only when at least K of the
evaluated datapoints are clear) and flap detection (more than X transitions within Y minutes
marks the rule-resource flapping until at most X // 2 remain in the window; the engine holds
its notifications meanwhile). Transition times are data times (period ends), so a backtest
flaps exactly as the live run would.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from oaktree.alerts.rules import AlarmState, Rule, TreatMissingData

# Periods are aligned like the warehouse's period buckets (DuckDB's time_bucket origin, a Monday
# midnight), so a period here is exactly one bucket of `read.series_for_keys(period_seconds=...)`
# whatever its length; for periods that divide a day this is also midnight-aligned.
PERIOD_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class Datapoint:
    """One period of the evaluation: its start, its value (None: missing), and what it counted as.

    `filled` marks a missing period that the missing-data treatment turned into a breaching or
    non-breaching datapoint.
    """

    ts: datetime
    value: float | None
    breaching: bool | None
    filled: bool = False

    def to_record(self) -> dict[str, Any]:
        return {
            "ts": self.ts.isoformat(),
            "value": self.value,
            "breaching": self.breaching,
            "filled": self.filled,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class PriorState:
    """What `evaluate` needs to know about the past: the state, and the transitions in the flap window."""

    state: AlarmState = AlarmState.INSUFFICIENT_DATA
    recent_transitions: tuple[datetime, ...] = ()
    flapping: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one evaluation; `evaluated_at` is the end of the newest period it considered."""

    new_state: AlarmState
    reason: str
    datapoints_used: tuple[Datapoint, ...]
    evaluated_at: datetime
    previous_state: AlarmState
    flapping: bool = False
    recent_transitions: tuple[datetime, ...] = ()

    @property
    def changed(self) -> bool:
        return self.new_state != self.previous_state

    def as_prior(self) -> PriorState:
        """Return the state the next evaluation starts from."""
        return PriorState(self.new_state, self.recent_transitions, self.flapping)


def period_start(moment: datetime, period: timedelta) -> datetime:
    """Return the start of the period holding `moment` (aligned as the warehouse's period buckets)."""
    return PERIOD_ORIGIN + ((moment - PERIOD_ORIGIN) // period) * period


def _value(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def evaluate(
    rule: Rule,
    datapoints: Mapping[datetime, float | None] | Iterable[tuple[datetime, float | None]],
    prior_state: PriorState,
    now: datetime,
    *,
    settle: timedelta = timedelta(0),
) -> Evaluation:
    """Return the rule's new state on one resource from its period values (keyed by period start).

    Periods that had not ended `settle` before `now` are not looked at, whatever their values.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    values = datapoints if isinstance(datapoints, Mapping) else dict(datapoints)
    period = timedelta(seconds=rule.period)
    horizon = period_start(now - settle, period)  # start of the first unsettled period
    size = rule.evaluation_range
    slots = [horizon - period * (size - index) for index in range(size)]  # oldest first
    observed = [_value(values.get(start)) for start in slots]
    operator, threshold = rule.comparison_operator, rule.threshold
    real = [
        (index, Datapoint(start, value, operator.breaches(value, threshold)))
        for index, (start, value) in enumerate(zip(slots, observed, strict=True))
        if value is not None
    ]
    n, m = rule.evaluation_periods, rule.datapoints_to_alarm
    treatment = rule.treat_missing_data
    prior = AlarmState(prior_state.state)

    used: tuple[Datapoint, ...]
    if len(real) >= n:
        used = tuple(point for _, point in real[-n:])
        breaching = sum(point.breaching for point in used)
        state = AlarmState.ALARM if breaching >= m else AlarmState.OK
        reason = _threshold_reason(rule, used, breaching)
    elif treatment in (TreatMissingData.BREACHING, TreatMissingData.NOT_BREACHING):
        used = _filled(rule, slots, observed, real)
        breaching = sum(bool(point.breaching) for point in used)
        state = AlarmState.ALARM if breaching >= m else AlarmState.OK
        reason = (
            _threshold_reason(rule, used, breaching) + f" ({n - len(real)} missing treated as {treatment})"
        )
    else:
        used = tuple(point for _, point in real)
        state, reason = _too_few_datapoints(rule, real, prior)

    if prior is AlarmState.ALARM and state is AlarmState.OK and rule.recovery_periods:
        clear = sum(point.breaching is False for point in used)
        if clear < rule.recovery_periods:
            state = AlarmState.ALARM
            reason = (
                f"still recovering: {clear} of the {len(used)} evaluated datapoints are clear; "
                f"the alarm ends at {rule.recovery_periods} clear (recovery_periods)"
            )

    recent, flapping = _flap(rule, prior_state, state, horizon)
    return Evaluation(
        new_state=state,
        reason=reason,
        datapoints_used=used,
        evaluated_at=horizon,
        previous_state=prior,
        flapping=flapping,
        recent_transitions=recent,
    )


def _threshold_reason(rule: Rule, used: tuple[Datapoint, ...], breaching: int) -> str:
    shown = ", ".join(
        "missing" if point.value is None else f"{_fmt(point.value)} ({point.ts:%H:%M})"
        for point in reversed(used)
    )
    return (
        f"{breaching} of the last {len(used)} datapoints [{shown}] breached {rule.condition} "
        f"(ALARM at {rule.datapoints_to_alarm})"
    )


def _filled(
    rule: Rule, slots: list[datetime], observed: list[float | None], real: list[tuple[int, Datapoint]]
) -> tuple[Datapoint, ...]:
    """Return every real datapoint plus the newest missing periods, filled, up to N datapoints."""
    fills = rule.evaluation_periods - len(real)
    breach = rule.treat_missing_data is TreatMissingData.BREACHING
    real_at = dict(real)
    filled_indexes = {index for index, value in enumerate(observed) if value is None}
    newest_missing = sorted(filled_indexes, reverse=True)[:fills]
    points = [
        real_at[index] if index in real_at else Datapoint(slots[index], None, breach, filled=True)
        for index in range(len(slots))
        if index in real_at or index in newest_missing
    ]
    return tuple(points)


def _too_few_datapoints(
    rule: Rule, real: list[tuple[int, Datapoint]], prior: AlarmState
) -> tuple[AlarmState, str]:
    """Return the state for `missing`/`ignore` when the range holds fewer than N real datapoints."""
    keep = rule.treat_missing_data is TreatMissingData.IGNORE
    size = rule.evaluation_range
    if not real:
        if keep:
            return prior, f"no datapoints in the last {size} periods; state kept (treat_missing_data=ignore)"
        return AlarmState.INSUFFICIENT_DATA, f"no datapoints in the last {size} periods"
    breaching = [point for _, point in real if point.breaching]
    m = rule.datapoints_to_alarm
    summary = f"{len(real)} of the last {size} periods have data, {len(breaching)} breaching {rule.condition}"
    if len(breaching) >= m:
        return AlarmState.ALARM, f"{summary} (ALARM at {m})"
    if len(breaching) < len(real):
        return AlarmState.OK, f"{summary}: fewer than {m} breaching"
    oldest_age = size - real[0][0]  # the newest period is 1 period old
    if keep:
        return prior, f"{summary}, too few to decide; state kept (treat_missing_data=ignore)"
    if oldest_age >= m:
        return AlarmState.ALARM, (
            f"{summary} and none clear; the oldest breach is {oldest_age} periods old (>= {m}), "
            "so this is not a premature alarm"
        )
    return AlarmState.INSUFFICIENT_DATA, (
        f"{summary}; too recent to alarm on (the oldest breach is {oldest_age} of {m} periods old)"
    )


def _flap(
    rule: Rule, prior: PriorState, state: AlarmState, at: datetime
) -> tuple[tuple[datetime, ...], bool]:
    """Return the transitions inside the flap window (this one included) and whether it is flapping."""
    if not rule.flap_transitions or not rule.flap_window_minutes:
        return (), False
    window_start = at - timedelta(minutes=rule.flap_window_minutes)
    recent = [moment for moment in prior.recent_transitions if moment > window_start]
    if state != prior.state and at not in recent:
        recent.append(at)
    limit = rule.flap_transitions
    flapping = len(recent) > limit // 2 if prior.flapping else len(recent) > limit
    return tuple(recent), flapping
