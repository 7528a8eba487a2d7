"""Band rules (like CloudWatch's anomaly-detection operators): validation, evaluation, a pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from oaktree.alerts import service
from oaktree.alerts.engine import run_pass
from oaktree.alerts.evaluation import PriorState, evaluate
from oaktree.alerts.rules import AlarmState, ComparisonOperator, InvalidRule, Rule, parse_rule
from oaktree.config import Settings
from sandbox.metric_generator import Role
from tests.alerts.conftest import OPERATOR
from tests.analytics.conftest import SANDBOX_START, build_day_of_sandbox

PERIOD = timedelta(minutes=5)
NOW = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)


def band_draft(**overrides: object) -> dict[str, object]:
    """Return a draft band rule on the us-east-1 EC2 fleet's CPU (5-minute periods, 2 of 2)."""
    draft: dict[str, object] = {
        "name": "cpu-unusual",
        "resource_type": "ec2_instance",
        "selector": {"region": "us-east-1"},
        "metric_name": "CPUUtilization",
        "statistic": "Average",
        "period": 300,
        "evaluation_periods": 2,
        "datapoints_to_alarm": 2,
        "threshold": 5,
        "comparison_operator": "LessThanLowerOrGreaterThanUpperThreshold",
    }
    draft.update(overrides)
    return draft


def _rule(operator: ComparisonOperator = ComparisonOperator.OUTSIDE_BAND) -> Rule:
    return parse_rule(
        {**band_draft(comparison_operator=operator.value), "selector": None, "resource_id": "i-1"}
    )


def _periods(*values: float | None) -> dict[datetime, float | None]:
    first = NOW - PERIOD * len(values)
    return {first + PERIOD * index: value for index, value in enumerate(values)}


def _bands(count: int, lower: float = 20.0, upper: float = 60.0) -> dict[datetime, tuple[float, float]]:
    first = NOW - PERIOD * count
    return {first + PERIOD * index: (lower, upper) for index in range(count)}


def test_a_band_rule_reads_as_its_band() -> None:
    rule = _rule()

    assert rule.comparison_operator.is_band
    assert rule.condition == "CPUUtilization Average outside the band of 5 spreads"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"period": 60}, "period", "band learned from 5-minute buckets: the period must be 300"),
        ({"statistic": "p95"}, "statistic", "works with Average, Sum, Minimum, Maximum, not p95"),
        ({"threshold": 0}, "threshold", "the threshold is the band's half-width in spreads"),
        ({"threshold": 500}, "threshold", "at most 100"),
    ],
)
def test_band_rules_are_validated(overrides: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(InvalidRule) as raised:
        parse_rule(band_draft(**overrides))

    assert message in raised.value.errors[field]


@pytest.mark.parametrize(
    ("operator", "values", "state"),
    [
        (ComparisonOperator.OUTSIDE_BAND, (40.0, 40.0, 70.0, 75.0), AlarmState.ALARM),
        (ComparisonOperator.OUTSIDE_BAND, (40.0, 40.0, 10.0, 5.0), AlarmState.ALARM),
        (ComparisonOperator.OUTSIDE_BAND, (90.0, 90.0, 30.0, 55.0), AlarmState.OK),
        (ComparisonOperator.ABOVE_BAND, (40.0, 40.0, 10.0, 5.0), AlarmState.OK),
        (ComparisonOperator.BELOW_BAND, (40.0, 40.0, 10.0, 5.0), AlarmState.ALARM),
        (ComparisonOperator.ABOVE_BAND, (40.0, 40.0, 70.0, 75.0), AlarmState.ALARM),
    ],
)
def test_evaluation_compares_each_period_with_its_band(
    operator: ComparisonOperator, values: tuple[float, ...], state: AlarmState
) -> None:
    result = evaluate(_rule(operator), _periods(*values), PriorState(), NOW, bands=_bands(len(values)))

    assert result.new_state is state
    assert [point.value for point in result.datapoints_used] == list(values[-2:])


def test_periods_without_a_band_count_as_missing_and_the_reason_shows_the_band() -> None:
    rule = _rule()
    values = _periods(40.0, 40.0, 70.0, 75.0)

    without = evaluate(rule, values, PriorState(), NOW, bands={})
    with_band = evaluate(rule, values, PriorState(), NOW, bands=_bands(4))

    assert without.new_state is AlarmState.INSUFFICIENT_DATA and without.datapoints_used == ()
    assert with_band.reason.startswith(
        "2 of the last 2 datapoints [75 (11:55, band 20..60), 70 (11:50, band 20..60)]"
    )
    assert "breached CPUUtilization Average outside the band of 5 spreads" in with_band.reason


def test_band_and_long_threshold_operators_are_stored_on_every_backend(session: Session) -> None:
    # The seed's VARCHAR(20) held neither: PostgreSQL refused them before migration 0004.
    band = service.create_rule(session=session, principal=OPERATOR, draft=band_draft())
    at_least = service.create_rule(
        session=session,
        principal=OPERATOR,
        draft=band_draft(
            name="cpu-at-least", comparison_operator="GreaterThanOrEqualToThreshold", threshold=90, period=60
        ),
    )

    assert service.get_rule(session=session, principal=OPERATOR, rule=band.id).comparison_operator is (
        ComparisonOperator.OUTSIDE_BAND
    )
    assert service.get_rule(session=session, principal=OPERATOR, rule=at_least.id).comparison_operator is (
        ComparisonOperator.GREATER_OR_EQUAL
    )


def test_a_pass_alarms_on_the_sandbox_incident_and_not_on_the_daily_cycle(
    alert_settings: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    end = SANDBOX_START.replace(minute=0)
    fleet = build_day_of_sandbox(alert_settings, end)
    service.create_rule(session=session, principal=OPERATOR, draft=band_draft())
    incident = next(sim.resource.resource_id for sim in fleet if sim.role is Role.INCIDENT)

    # Half an hour into the incident that started three hours before the end of the data.
    during = run_pass(settings=alert_settings, factory=factory, now=end - timedelta(hours=2, minutes=30))

    assert (during.rules, during.targets) == (1, 3)
    states = {t["resource_id"]: t["to"] for t in during.transitions}
    assert states == {
        sim.resource.resource_id: ("ALARM" if sim.resource.resource_id == incident else "OK") for sim in fleet
    }
    alarm = next(t for t in during.transitions if t["resource_id"] == incident)
    assert "outside the band of 5 spreads" in alarm["reason"]

    # An hour after it ended, the instance is back inside its band.
    after = run_pass(settings=alert_settings, factory=factory, now=end - timedelta(hours=1))
    assert {(t["resource_id"], t["to"]) for t in after.transitions} == {(incident, "OK")}


def test_downgrading_below_0004_refuses_while_a_rule_uses_a_long_operator(
    db_url: str, session: Session
) -> None:
    from oaktree import db

    service.create_rule(session=session, principal=OPERATOR, draft=band_draft())
    session.close()

    with pytest.raises(
        db.MigrationRefused, match="rules using operators longer than 20 characters: cpu-unusual;"
    ):
        db.downgrade(db_url, "0003")
    assert db.current_revision(db_url) == "0004"
