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

A band rule (`ComparisonOperator.is_band`) compares each period's value with that period's band
(lower, upper), given beside the values: a period without a band (no baseline yet) counts as
missing, as CloudWatch treats a period its anomaly model cannot judge.

Beyond CloudWatch, per rule: recovery hysteresis (an alarm ends only when at least K of the
evaluated datapoints are clear) and flap detection (more than X transitions within Y minutes
marks the rule-resource flapping until at most X // 2 remain in the window; the engine holds
its notifications meanwhile). Transition times are data times (period ends), so a backtest
flaps exactly as the live run would.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from oaktree.alerts.rules import AlarmState, ComparisonOperator, Rule, TreatMissingData
from oaktree.warehouse.buckets import BUCKET_ORIGIN

# Periods are aligned like the warehouse's period buckets (time_bucket's origin, a Monday
# midnight), so a period here is exactly one bucket of `read.series_for_keys(period_seconds=...)`
# whatever its length; for periods that divide a day this is also midnight-aligned.
PERIOD_ORIGIN = BUCKET_ORIGIN


class Datapoint(NamedTuple):
    """One period of the evaluation: its start, its value (None: missing), and what it counted as.

    `filled` marks a missing period that the missing-data treatment turned into a breaching or
    non-breaching datapoint. (A named tuple: a pass makes tens of thousands of them.)
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
    """The outcome of one evaluation; `evaluated_at` is the end of the newest period it considered.

    The reason is written only when asked for (`reason`): a pass asks only for transitions.
    """

    new_state: AlarmState
    datapoints_used: tuple[Datapoint, ...]
    evaluated_at: datetime
    previous_state: AlarmState
    explanation: Callable[[], str] = dataclasses.field(repr=False, compare=False)
    flapping: bool = False
    recent_transitions: tuple[datetime, ...] = ()

    @property
    def reason(self) -> str:
        """Return why the state is what it is, with the datapoints' values."""
        return self.explanation()

    @property
    def changed(self) -> bool:
        return self.new_state != self.previous_state

    def as_prior(self) -> PriorState:
        """Return the state the next evaluation starts from."""
        return PriorState(self.new_state, self.recent_transitions, self.flapping)


def period_start(moment: datetime, period: timedelta) -> datetime:
    """Return the start of the period holding `moment` (aligned as the warehouse's period buckets)."""
    return PERIOD_ORIGIN + ((moment - PERIOD_ORIGIN) // period) * period


def _fmt(value: float) -> str:
    return f"{value:.6g}"


_STATES = {state.value: state for state in AlarmState}
_COMPARE = {op: op.breaches for op in ComparisonOperator if not op.is_band}
Band = tuple[float, float]  # (lower, upper) of one period
_NO_BANDS: Mapping[datetime, Band] = {}
_SLOTS: dict[tuple[datetime, timedelta, int], tuple[datetime, ...]] = {}


def _slots(horizon: datetime, period: timedelta, size: int) -> tuple[datetime, ...]:
    """Return the starts of the `size` periods before `horizon`, oldest first (shared by rules alike)."""
    key = (horizon, period, size)
    slots = _SLOTS.get(key)
    if slots is None:
        if len(_SLOTS) > 4096:
            _SLOTS.clear()
        slots = _SLOTS[key] = tuple(horizon - period * (size - index) for index in range(size))
    return slots


def evaluate(
    rule: Rule,
    datapoints: Mapping[datetime, float | None] | Iterable[tuple[datetime, float | None]],
    prior_state: PriorState,
    now: datetime,
    *,
    settle: timedelta = timedelta(0),
    bands: Mapping[datetime, Band] | None = None,
) -> Evaluation:
    """Return the rule's new state on one resource from its period values (keyed by period start).

    Periods that had not ended `settle` before `now` are not looked at, whatever their values.
    `bands` (period start -> (lower, upper)) is what a band rule compares with; other rules
    ignore it.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    values = datapoints if isinstance(datapoints, Mapping) else dict(datapoints)
    period = timedelta(seconds=rule.period)
    horizon = period_start(now - settle, period)  # start of the first unsettled period
    slots = _slots(horizon, period, rule.evaluation_range)
    real: list[tuple[int, Datapoint]] = []
    if rule.comparison_operator.is_band:
        real = _band_datapoints(rule, slots, values, bands or _NO_BANDS)
    else:
        breaches, threshold = _COMPARE[rule.comparison_operator], rule.threshold
        for index, start in enumerate(slots):
            value = values.get(start)
            if value is not None and value == value:  # NaN is missing too
                real.append((index, Datapoint(start, float(value), breaches(value, threshold))))
    n, m = rule.evaluation_periods, rule.datapoints_to_alarm
    treatment = rule.treat_missing_data
    prior = _STATES[prior_state.state]

    used: tuple[Datapoint, ...]
    explanation: Callable[[], str]
    if len(real) >= n:
        used = tuple(point for _, point in real[-n:])
        breaching = sum(point.breaching for point in used)
        state = AlarmState.ALARM if breaching >= m else AlarmState.OK
        explanation = functools.partial(_threshold_reason, rule, used, breaching, "", bands or _NO_BANDS)
    elif treatment in (TreatMissingData.BREACHING, TreatMissingData.NOT_BREACHING):
        used = _filled(rule, slots, real)
        breaching = sum(bool(point.breaching) for point in used)
        state = AlarmState.ALARM if breaching >= m else AlarmState.OK
        note = f" ({n - len(real)} missing treated as {treatment})"
        explanation = functools.partial(_threshold_reason, rule, used, breaching, note, bands or _NO_BANDS)
    else:
        used = tuple(point for _, point in real)
        state, reason = _too_few_datapoints(rule, real, prior)
        explanation = functools.partial(str, reason)

    if prior is AlarmState.ALARM and state is AlarmState.OK and rule.recovery_periods:
        clear = sum(point.breaching is False for point in used)
        if clear < rule.recovery_periods:
            state = AlarmState.ALARM
            explanation = functools.partial(
                str,
                f"still recovering: {clear} of the {len(used)} evaluated datapoints are clear; "
                f"the alarm ends at {rule.recovery_periods} clear (recovery_periods)",
            )

    recent, flapping = _flap(rule, prior_state, state, horizon)
    return Evaluation(
        new_state=state,
        datapoints_used=used,
        evaluated_at=horizon,
        previous_state=prior,
        explanation=explanation,
        flapping=flapping,
        recent_transitions=recent,
    )


def _band_datapoints(
    rule: Rule,
    slots: tuple[datetime, ...],
    values: Mapping[datetime, float | None],
    bands: Mapping[datetime, Band],
) -> list[tuple[int, Datapoint]]:
    """Return the real datapoints of a band rule: periods with both a value and a band."""
    breaches = rule.comparison_operator.breaches_band
    real = []
    for index, start in enumerate(slots):
        value, band = values.get(start), bands.get(start)
        if value is not None and value == value and band is not None:
            real.append((index, Datapoint(start, float(value), breaches(value, band[0], band[1]))))
    return real


def _threshold_reason(
    rule: Rule,
    used: tuple[Datapoint, ...],
    breaching: int,
    note: str,
    bands: Mapping[datetime, Band] = _NO_BANDS,
) -> str:
    def shown(point: Datapoint) -> str:
        if point.value is None:
            return "missing"
        band = bands.get(point.ts)
        within = f", band {_fmt(band[0])}..{_fmt(band[1])}" if band is not None else ""
        return f"{_fmt(point.value)} ({point.ts:%H:%M}{within})"

    return (
        f"{breaching} of the last {len(used)} datapoints [{', '.join(shown(p) for p in reversed(used))}] "
        f"breached {rule.condition} (ALARM at {rule.datapoints_to_alarm}){note}"
    )


def _filled(
    rule: Rule, slots: tuple[datetime, ...], real: list[tuple[int, Datapoint]]
) -> tuple[Datapoint, ...]:
    """Return every real datapoint plus the newest missing periods, filled, up to N datapoints."""
    fills = rule.evaluation_periods - len(real)
    breach = rule.treat_missing_data is TreatMissingData.BREACHING
    real_at = dict(real)
    missing = [index for index in range(len(slots)) if index not in real_at]
    newest_missing = set(missing[len(missing) - fills :])
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
