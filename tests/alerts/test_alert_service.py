"""The management API the dashboard calls: validation per field, roles, audit, channels, silences."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Alert, AlertChannel, AuditEntry, NotificationChannel, Silence
from oaktree.alerts import service
from oaktree.alerts.channels import InvalidChannel
from oaktree.alerts.rules import InvalidRule
from oaktree.alerts.silences import InvalidSilence
from oaktree.auth.errors import PermissionDenied
from oaktree.auth.roles import Principal
from tests.alerts.conftest import OPERATOR, VIEWER
from tests.alerts.estate import cpu_rule

NOW = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


EC2_METRICS = "CPUUtilization, DiskReadOps, DiskWriteOps, NetworkIn, NetworkOut, StatusCheckFailed"
OPERATORS = (
    "GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, LessThanOrEqualToThreshold, "
    "LessThanLowerOrGreaterThanUpperThreshold, GreaterThanUpperThreshold, LessThanLowerThreshold"
)
INVALID_RULES = [
    ({"metric_name": "CPUUtilizaton"},
     {"metric_name": f"'CPUUtilizaton' is not collected for ec2_instance; choose one of {EC2_METRICS}"}),
    ({"metric_name": "MemoryUtilization"},
     {"metric_name": f"'MemoryUtilization' is not collected for ec2_instance; choose one of {EC2_METRICS}"}),
    ({"threshold": "ninety"}, {"threshold": "must be a number, not 'ninety'"}),
    ({"threshold": float("nan")}, {"threshold": "must be a finite number"}),
    ({"threshold": True}, {"threshold": "must be a number"}),
    ({"datapoints_to_alarm": 4}, {"datapoints_to_alarm": "must not exceed evaluation_periods (4 > 3)"}),
    ({"comparison_operator": "GreaterThan"},
     {"comparison_operator": f"'GreaterThan' is not one of {OPERATORS}"}),
    ({"period": 90}, {"period": "must be a multiple of CPUUtilization's period (60 s)"}),
    ({"period": 0}, {"period": "must be between 1 and 86400"}),
    ({"period": 3600, "evaluation_periods": 25, "datapoints_to_alarm": 1},
     {"evaluation_periods": "evaluation_periods x period must not exceed one day (86400 s)"}),
    ({"statistic": "Minimum"}, {"statistic": "'Minimum' is not one of Average, Maximum, p90, p95, p99"}),
    ({"treat_missing_data": "zero"},
     {"treat_missing_data": "'zero' is not one of missing, notBreaching, breaching, ignore"}),
    ({"severity": "urgent"}, {"severity": "'urgent' is not one of critical, error, warning, info"}),
    ({"selector": None}, {"resource_id": "give a resource_id, or a selector for every resource of the type"}),
    ({"resource_id": "i-1"}, {"selector": "give either a resource_id or a selector, not both"}),
    ({"selector": {"region": "mars-1"}}, {"selector": "unknown AWS region 'mars-1'"}),
    ({"selector": {"tags": "env"}}, {"selector": "tags must look like key=value, not 'env'"}),
    ({"name": ""}, {"name": "is required"}),
    ({"name": "bad\x00name"}, {"name": "must not contain control characters"}),
    ({"recovery_periods": 5}, {"recovery_periods": "must not exceed evaluation_periods (3)"}),
    ({"flap_transitions": 4},
     {"flap_window_minutes": "flap detection needs both flap_transitions and flap_window_minutes"}),
    ({"thresold": 5}, {"thresold": "is not a rule field"}),
    ({"channels": ["nowhere"]}, {"channels": "unknown channel(s): nowhere; define them first"}),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "errors"), INVALID_RULES)
def test_invalid_rules_name_the_field_and_store_nothing(
    session: Session, overrides: dict, errors: dict[str, str]
) -> None:
    with pytest.raises(InvalidRule) as caught:
        service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(**overrides), now=NOW)
    assert caught.value.errors == errors
    assert (_count(session, Alert), _count(session, AuditEntry)) == (0, 0)


def test_several_bad_fields_are_reported_together(session: Session) -> None:
    draft = cpu_rule(threshold="x", datapoints_to_alarm=9, comparison_operator="Above")
    with pytest.raises(InvalidRule) as caught:
        service.create_rule(session=session, principal=OPERATOR, draft=draft)
    assert set(caught.value.errors) == {"threshold", "datapoints_to_alarm", "comparison_operator"}


def test_form_fields_as_text_are_accepted(session: Session) -> None:
    draft = cpu_rule(
        threshold=" 90.5 ",
        period="300",
        evaluation_periods="3",
        datapoints_to_alarm="",
        selector={"tags": "env=prod"},
    )
    rule = service.create_rule(session=session, principal=OPERATOR, draft=draft)
    assert (rule.threshold, rule.period, rule.datapoints_to_alarm) == (90.5, 300, 3)
    assert rule.selector is not None and rule.selector.tags == (("env", "prod"),)


def test_create_update_disable_delete_with_audit(session: Session) -> None:
    service.put_channel(
        session=session, principal=OPERATOR, draft={"name": "mail", "type": "email", "to": "a@example.com"}
    )
    created = service.create_rule(
        session=session, principal=OPERATOR, draft=cpu_rule(channels=["mail"]), now=NOW
    )
    assert created.id is not None and created.channels == ("mail",)
    with pytest.raises(InvalidRule, match="name: 'high-cpu' is already used by another rule"):
        service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule())

    updated = service.update_rule(
        session=session,
        principal=OPERATOR,
        rule=created.id,
        draft=cpu_rule(threshold=95, channels=[]),
        now=NOW,
    )
    assert (updated.threshold, updated.channels) == (95.0, ())
    assert _count(session, AlertChannel) == 0
    service.set_rule_enabled(session=session, principal=OPERATOR, rule="high-cpu", enabled=False, now=NOW)
    [listed] = service.list_rules(session=session, principal=VIEWER)
    assert (listed["name"], listed["enabled"], listed["threshold"], listed["states"]) == (
        "high-cpu",
        False,
        95.0,
        [],
    )
    service.delete_rule(session=session, principal=OPERATOR, rule="high-cpu", now=NOW)
    assert _count(session, Alert) == 0

    actions = [
        (e.actor, e.action, e.target) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    assert actions == [
        ("ops", "alert_channel.created", "mail"),
        ("ops", "alert.created", "high-cpu"),
        ("ops", "alert.updated", "high-cpu"),
        ("ops", "alert.disabled", "high-cpu"),
        ("ops", "alert.deleted", "high-cpu"),
    ]
    update_entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.updated")).one()
    assert update_entry.details == {"threshold": 95.0, "channels": []}
    with pytest.raises(service.RuleNotFound, match="no rule 'high-cpu'"):
        service.get_rule(session=session, principal=VIEWER, rule="high-cpu")


EXISTING = cpu_rule(name="existing")
SILENCE = {"rule": "existing", "duration_minutes": 30}
SNS_CHANNEL = {"name": "x", "type": "sns", "topic_arn": "arn:aws:sns:us-east-1:123456789012:t"}


@pytest.mark.parametrize(
    "action",
    [
        lambda s, p: service.create_rule(session=s, principal=p, draft=cpu_rule()),
        lambda s, p: service.update_rule(session=s, principal=p, rule="existing", draft=EXISTING),
        lambda s, p: service.set_rule_enabled(session=s, principal=p, rule="existing", enabled=False),
        lambda s, p: service.delete_rule(session=s, principal=p, rule="existing"),
        lambda s, p: service.create_silence(session=s, principal=p, draft=SILENCE),
        lambda s, p: service.put_channel(session=s, principal=p, draft=SNS_CHANNEL),
        lambda s, p: service.delete_channel(session=s, principal=p, name="mail"),
    ],
    ids=["create", "update", "disable", "delete", "silence", "channel", "delete-channel"],
)  # fmt: skip
def test_a_viewer_cannot_create_change_or_silence(session: Session, action: object) -> None:
    service.put_channel(
        session=session, principal=OPERATOR, draft={"name": "mail", "type": "email", "to": "a@example.com"}
    )
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(name="existing"))
    before = (
        _count(session, Alert),
        _count(session, Silence),
        _count(session, AuditEntry),
        _count(session, NotificationChannel),
    )
    with pytest.raises(PermissionDenied, match="watcher \\(roles: viewer\\) may not manage alerts"):
        action(session, VIEWER)  # type: ignore[operator]
    with pytest.raises(PermissionDenied, match="login required to manage alerts"):
        action(session, None)  # type: ignore[operator]
    after = (
        _count(session, Alert),
        _count(session, Silence),
        _count(session, AuditEntry),
        _count(session, NotificationChannel),
    )
    assert after == before
    assert service.get_rule(session=session, principal=VIEWER, rule="existing").enabled is True


def test_an_unknown_role_grants_nothing(session: Session) -> None:
    with pytest.raises(PermissionDenied):
        service.list_rules(session=session, principal=Principal(user_id=None, username="x", roles=("guest",)))


def test_channels_are_validated_and_their_secrets_masked(session: Session) -> None:
    with pytest.raises(InvalidChannel) as caught:
        service.put_channel(
            session=session,
            principal=OPERATOR,
            draft={"name": "x y", "type": "slack", "url": "ftp://hooks", "color": "red"},
        )
    assert caught.value.errors == {
        "name": "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        "color": "is not a field of a slack channel",
        "url": "must be an http:// or https:// URL (or secretsmanager:<id> / env:<VARIABLE>)",
    }
    with pytest.raises(
        InvalidChannel, match="type: 'teams' is not one of email, slack, webhook, pagerduty, sns"
    ):
        service.put_channel(session=session, principal=OPERATOR, draft={"name": "t", "type": "teams"})
    with pytest.raises(InvalidChannel, match="to: 'not-an-address' is not a valid address"):
        service.put_channel(
            session=session, principal=OPERATOR, draft={"name": "m", "type": "email", "to": "not-an-address"}
        )
    assert _count(session, NotificationChannel) == 0

    slack = {"name": "slack", "type": "slack", "url": "https://hooks.slack.com/services/T/B/secret"}
    assert service.put_channel(session=session, principal=OPERATOR, draft=slack)[1] == "created"
    assert service.put_channel(session=session, principal=OPERATOR, draft=slack)[1] == "unchanged"
    hook = {
        "name": "hook",
        "type": "webhook",
        "url": "secretsmanager:oaktree/hook",
        "headers": {"Authorization": "Bearer t"},
    }
    service.put_channel(session=session, principal=OPERATOR, draft=hook)
    assert service.list_channels(session=session, principal=VIEWER) == [
        {
            "name": "hook",
            "type": "webhook",
            "url": "secretsmanager:oaktree/hook",
            "headers": {"Authorization": "********"},
        },
        {"name": "slack", "type": "slack", "url": "********"},
    ]
    audit_details = [e.details for e in session.scalars(select(AuditEntry))]
    assert "services/T/B/secret" not in str(audit_details) and "Bearer" not in str(audit_details)
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=["slack"]))
    with pytest.raises(InvalidChannel, match="name: used by rule\\(s\\) high-cpu"):
        service.delete_channel(session=session, principal=OPERATOR, name="slack")
    service.delete_channel(session=session, principal=OPERATOR, name="hook")
    assert [c["name"] for c in service.list_channels(session=session, principal=VIEWER)] == ["slack"]


def test_silences_are_validated_listed_and_ended(session: Session) -> None:
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule())
    with pytest.raises(InvalidSilence) as caught:
        service.create_silence(
            session=session,
            principal=OPERATOR,
            draft={
                "rule": "nope",
                "starts_at": "tomorrow",
                "weekly_windows": ["someday 25:00-26:00"],
                "timezone": "Mars/Base",
            },
            now=NOW,
        )
    assert caught.value.errors == {
        "rule": "no rule named 'nope'",
        "starts_at": "must be an ISO date and time",
        "weekly_windows": "days must be names such as mon, tue or a range such as mon-fri, not 'someday'",
        "timezone": "unknown time zone 'Mars/Base'",
        # The only window was invalid, so nothing would ever end this silence either.
        "ends_at": "a one-off silence needs an end (ends_at or duration_minutes); only weekly windows repeat",
    }
    with pytest.raises(InvalidSilence, match="a one-off silence needs an end"):
        service.create_silence(session=session, principal=OPERATOR, draft={"tag": "env=prod"}, now=NOW)
    with pytest.raises(InvalidSilence, match="rule: a silence must match a rule, a resource_id or a tag"):
        service.create_silence(session=session, principal=OPERATOR, draft={"duration_minutes": 5}, now=NOW)
    assert _count(session, Silence) == 0

    one_off = service.create_silence(
        session=session,
        principal=OPERATOR,
        draft={"rule": "high-cpu", "duration_minutes": 30, "comment": "deploy"},
        now=NOW,
    )
    window = service.create_silence(
        session=session,
        principal=OPERATOR,
        draft={"tag": "team=data", "weekly_windows": [{"days": "sat-sun", "start": "22:00", "end": "02:00"}],
               "timezone": "Asia/Singapore"},
        now=NOW,
    )  # fmt: skip
    assert (one_off["rule"], one_off["active"], one_off["created_by"]) == ("high-cpu", True, "ops")
    # Tuesday 20:00 in Singapore: outside the weekend window.
    assert window["active"] is False and window["weekly_windows"] == [
        {"days": ["sat", "sun"], "start": "22:00", "end": "02:00"}
    ]
    ended = service.end_silence(session=session, principal=OPERATOR, silence_id=one_off["id"], now=NOW)
    assert (ended["active"], ended["expired"]) == (False, True)
    assert [s["id"] for s in service.list_silences(session=session, principal=VIEWER, now=NOW)] == [
        window["id"]
    ]
    with pytest.raises(service.SilenceNotFound):
        service.end_silence(session=session, principal=OPERATOR, silence_id=999, now=NOW)
