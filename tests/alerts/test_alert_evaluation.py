"""`evaluate` against CloudWatch's documented behaviour, then OakTree's hysteresis and flap detection.

The two tables are the CloudWatch user guide's ("How alarm state is evaluated when data is
missing"): five periods (the evaluation range for three evaluation periods), oldest first;
`0` a non-breaching datapoint, `X` a breaching one, `-` a missing one. RETAIN means the state
before the evaluation is kept, whatever it was.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oaktree.alerts.evaluation import Datapoint, PriorState, evaluate
from oaktree.alerts.rules import AlarmState, ComparisonOperator, Rule, TreatMissingData

OK, ALARM, INSUFFICIENT = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
RETAIN = "retain"
PERIOD = timedelta(minutes=5)
NOW = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
THRESHOLD = 50.0
VALUES = {"0": 10.0, "X": 95.0}
TREATMENTS = (
    TreatMissingData.MISSING,
    TreatMissingData.IGNORE,
    TreatMissingData.BREACHING,
    TreatMissingData.NOT_BREACHING,
)


def make_rule(n: int = 3, m: int = 3, **overrides: object) -> Rule:
    fields: dict = {
        "name": "cpu",
        "resource_type": "ec2_instance",
        "resource_id": "i-1",
        "metric_name": "CPUUtilization",
        "statistic": "Average",
        "period": int(PERIOD.total_seconds()),
        "evaluation_periods": n,
        "datapoints_to_alarm": m,
        "threshold": THRESHOLD,
        "comparison_operator": ComparisonOperator.GREATER,
    }
    fields.update(overrides)
    return Rule(**fields)


def series(pattern: str, *, end: datetime = NOW) -> dict[datetime, float]:
    """Return period values for a pattern such as `0 - X - X`, the last period ending at `end`."""
    marks = pattern.split()
    first = end - PERIOD * len(marks)
    return {first + PERIOD * i: VALUES[mark] for i, mark in enumerate(marks) if mark != "-"}


# (datapoints, MISSING, IGNORE, BREACHING, NOT BREACHING)
THREE_OF_THREE = [
    ("0 - X - X", OK, OK, OK, OK),
    ("0 - - - -", OK, OK, OK, OK),
    ("- - - - -", INSUFFICIENT, RETAIN, ALARM, OK),
    ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
    ("- - - - X", INSUFFICIENT, RETAIN, ALARM, OK),  # no premature alarm on one fresh breach
    ("X - - - -", ALARM, RETAIN, ALARM, OK),
    ("- - X - -", ALARM, RETAIN, ALARM, OK),  # the oldest breach is M periods old
]
TWO_OF_THREE = [
    ("0 - X - X", ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),  # M of N need not be consecutive
    ("0 - X - -", OK, OK, ALARM, OK),
    ("- - - - 0", OK, OK, ALARM, OK),
    ("- - - - X", INSUFFICIENT, RETAIN, ALARM, OK),
    ("- - - X -", ALARM, RETAIN, ALARM, OK),
]
CASES = [(3, 3, *row) for row in THREE_OF_THREE] + [(3, 2, *row) for row in TWO_OF_THREE]


@pytest.mark.parametrize(
    ("n", "m", "pattern", "missing", "ignore", "breaching", "not_breaching"),
    CASES,
    ids=[f"{m}of{n}[{row[0]}]" for n, m, *row in CASES],
)
def test_cloudwatch_documented_table(
    n: int, m: int, pattern: str, missing: object, ignore: object, breaching: object, not_breaching: object
) -> None:
    for treatment, expected in zip(TREATMENTS, (missing, ignore, breaching, not_breaching), strict=True):
        rule = make_rule(n, m, treat_missing_data=treatment)
        for before in AlarmState:
            result = evaluate(rule, series(pattern), PriorState(before), NOW)
            wanted = before if expected == RETAIN else expected
            assert result.new_state == wanted, (treatment.value, before.value, result.reason)


def test_enough_real_datapoints_use_the_newest_n_and_ignore_the_treatment() -> None:
    result = evaluate(
        make_rule(3, 3, treat_missing_data=TreatMissingData.BREACHING), series("0 X X - X"), PriorState(), NOW
    )
    assert [point.value for point in result.datapoints_used] == [95.0, 95.0, 95.0]
    assert [point.ts for point in result.datapoints_used] == [
        NOW - 4 * PERIOD,
        NOW - 3 * PERIOD,
        NOW - PERIOD,
    ]
    assert not any(point.filled for point in result.datapoints_used)
    assert result.reason.startswith("3 of the last 3 datapoints [95 (11:55), 95 (11:45), 95 (11:40)]")


def test_filled_datapoints_are_the_newest_missing_periods() -> None:
    result = evaluate(
        make_rule(3, 2, treat_missing_data=TreatMissingData.BREACHING), series("0 - X - -"), PriorState(), NOW
    )
    assert result.new_state is ALARM
    assert [(point.ts, point.value, point.breaching, point.filled) for point in result.datapoints_used] == [
        (NOW - 5 * PERIOD, 10.0, False, False),
        (NOW - 3 * PERIOD, 95.0, True, False),
        (NOW - PERIOD, None, True, True),
    ]
    assert result.reason.endswith("(1 missing treated as breaching)")


def test_points_outside_the_evaluation_range_do_not_count() -> None:
    # Breaching six and seven periods ago: beyond the five-period range of N = 3.
    values = series("X X - - - - -")
    assert evaluate(make_rule(3, 1), values, PriorState(OK), NOW).new_state is INSUFFICIENT


def test_only_settled_periods_are_evaluated() -> None:
    values = series("0 0 0 0 0")
    values[NOW] = 99.0  # the period in progress
    now = NOW + timedelta(minutes=3)
    assert evaluate(make_rule(1, 1), values, PriorState(OK), now).new_state is OK
    # Once it has ended, it still waits for the settling time.
    later = NOW + PERIOD + timedelta(seconds=60)
    settled = evaluate(make_rule(1, 1), values, PriorState(OK), later, settle=timedelta(seconds=120))
    assert settled.new_state is OK and settled.evaluated_at == NOW
    due = evaluate(make_rule(1, 1), values, PriorState(OK), later, settle=timedelta(seconds=60))
    assert due.new_state is ALARM and due.evaluated_at == NOW + PERIOD


@pytest.mark.parametrize(
    ("operator", "breaching_values"),
    [
        (ComparisonOperator.GREATER, {60.0}),
        (ComparisonOperator.GREATER_OR_EQUAL, {50.0, 60.0}),
        (ComparisonOperator.LESS, {40.0}),
        (ComparisonOperator.LESS_OR_EQUAL, {40.0, 50.0}),
    ],
)
def test_the_four_operators_at_and_around_the_threshold(
    operator: ComparisonOperator, breaching_values: set[float]
) -> None:
    for value in (40.0, 50.0, 60.0):
        result = evaluate(
            make_rule(1, 1, comparison_operator=operator), {NOW - PERIOD: value}, PriorState(), NOW
        )
        assert (result.new_state is ALARM) == (value in breaching_values), (operator, value)


def test_re_evaluating_the_same_window_never_changes_state_again() -> None:
    rule = make_rule(3, 2)
    first = evaluate(rule, series("0 X 0 X X"), PriorState(), NOW)
    assert (first.previous_state, first.new_state, first.changed) == (INSUFFICIENT, ALARM, True)
    again = evaluate(rule, series("0 X 0 X X"), first.as_prior(), NOW)
    assert (again.new_state, again.changed) == (ALARM, False)


def test_a_new_rule_starts_insufficient_and_reports_its_datapoints() -> None:
    result = evaluate(make_rule(2, 2), series("0 0 0 0 0"), PriorState(), NOW)
    assert (result.previous_state, result.new_state) == (INSUFFICIENT, OK)
    assert result.reason.startswith("0 of the last 2 datapoints")
    assert "CPUUtilization Average > 50" in result.reason
    assert [point.to_record() for point in result.datapoints_used][-1] == {
        "ts": (NOW - PERIOD).isoformat(),
        "value": 10.0,
        "breaching": False,
        "filled": False,
    }


def test_recovery_hysteresis_keeps_the_alarm_until_k_clear() -> None:
    rule = make_rule(3, 2, recovery_periods=3)
    alarm = PriorState(ALARM)
    # 1 breaching of 3 is OK for CloudWatch, but only 2 are clear.
    held = evaluate(rule, series("X X X 0 0"), alarm, NOW)
    assert held.new_state is ALARM
    assert held.reason.startswith("still recovering: 2 of the 3 evaluated datapoints are clear")
    released = evaluate(rule, series("X X 0 0 0"), alarm, NOW)
    assert released.new_state is OK
    # Without hysteresis the same data recovers at once.
    assert evaluate(make_rule(3, 2), series("X X X 0 0"), alarm, NOW).new_state is OK


def _walk(rule: Rule, pattern: str) -> list[tuple[AlarmState, bool]]:
    """Evaluate a rule period by period over a pattern; return (state, flapping) after each period."""
    marks = pattern.split()
    values = {NOW + PERIOD * i: VALUES[mark] for i, mark in enumerate(marks) if mark != "-"}
    prior, seen = PriorState(), []
    for i in range(1, len(marks) + 1):
        result = evaluate(rule, values, prior, NOW + PERIOD * i)
        prior = result.as_prior()
        seen.append((result.new_state, result.flapping))
    return seen


def test_flapping_starts_after_more_than_x_transitions_in_the_window_and_settles() -> None:
    rule = make_rule(1, 1, flap_transitions=3, flap_window_minutes=30)
    seen = _walk(rule, "0 X 0 X 0 0 0 0 0 0 0 0")
    states = [state for state, _ in seen]
    flapping = [flag for _, flag in seen]
    assert states[:5] == [OK, ALARM, OK, ALARM, OK]
    # Transitions at periods 1..5 (INSUFFICIENT->OK included): the fourth within 30 minutes flaps.
    assert flapping[:5] == [False, False, False, True, True]
    # It settles once at most 3 // 2 = 1 transition remains in the window.
    first_settled = flapping.index(False, 5)
    assert all(flapping[3:first_settled]) and not any(flapping[first_settled:])
    assert first_settled == 9


def test_flap_window_uses_data_time_so_a_backtest_flaps_like_the_live_run() -> None:
    rule = make_rule(1, 1, flap_transitions=1, flap_window_minutes=10)
    # Two transitions more than 10 minutes apart never flap.
    assert not any(flag for _, flag in _walk(rule, "0 0 0 X X X"))


def test_datapoint_record_round_trip() -> None:
    point = Datapoint(NOW, 1.5, True)
    assert point.to_record() == {"ts": NOW.isoformat(), "value": 1.5, "breaching": True, "filled": False}


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(make_rule(), {}, PriorState(), datetime(2025, 1, 1))
