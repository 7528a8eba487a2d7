"""Alerts as code: the YAML file applied idempotently, pruned, and refused whole when anything is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Alert, AuditEntry, NotificationChannel
from oaktree.alerts import service
from oaktree.alerts.rules_file import InvalidRulesFile, apply_rules, load_rules_file, parse_rules_document
from oaktree.auth.errors import PermissionDenied
from tests.alerts.conftest import OPERATOR, VIEWER

ROOT = Path(__file__).resolve().parents[2]
SEED_ALARMS = ROOT / "docs" / "alerts-seed-alarms.yaml"
SANDBOX_RULES = ROOT / "sandbox" / "rules.yaml"


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_seed_alarms_apply_once_then_are_unchanged(session: Session) -> None:
    rules_file = load_rules_file(SEED_ALARMS)
    assert [rule.name for rule in rules_file.rules] == [
        "high-cpu",
        "high-memory",
        "api-errors",
        "slow-responses",
    ]

    first = apply_rules(session=session, principal=OPERATOR, rules_file=rules_file)
    again = apply_rules(session=session, principal=OPERATOR, rules_file=load_rules_file(SEED_ALARMS))

    assert first == {
        "channels": {
            "created": ["ops-email", "ops-slack", "oncall-pagerduty"],
            "updated": [],
            "unchanged": [],
        },
        "rules": {
            "created": ["high-cpu", "high-memory", "api-errors", "slow-responses"],
            "updated": [],
            "unchanged": [],
            "deleted": [],
        },
    }
    assert again["rules"]["unchanged"] == ["high-cpu", "high-memory", "api-errors", "slow-responses"]
    assert again["channels"]["unchanged"] == ["ops-email", "ops-slack", "oncall-pagerduty"]
    audit_entries = _count(session, AuditEntry)
    assert audit_entries == 7  # nothing recorded for the unchanged second run
    cpu = service.get_rule(session=session, principal=VIEWER, rule="high-cpu")
    assert (cpu.period, cpu.evaluation_periods, cpu.datapoints_to_alarm, cpu.threshold) == (300, 2, 2, 80.0)
    assert cpu.channels == ("oncall-pagerduty", "ops-email")


def test_a_changed_rule_is_updated_and_prune_deletes_the_rest(session: Session) -> None:
    document = yaml.safe_load(SEED_ALARMS.read_text())
    apply_rules(session=session, principal=OPERATOR, rules_file=parse_rules_document(document))
    document["rules"][0]["threshold"] = 85
    document["rules"] = document["rules"][:2]
    kept = apply_rules(session=session, principal=OPERATOR, rules_file=parse_rules_document(document))
    pruned = apply_rules(
        session=session, principal=OPERATOR, rules_file=parse_rules_document(document), prune=True
    )
    assert (kept["rules"]["updated"], kept["rules"]["unchanged"], kept["rules"]["deleted"]) == (
        ["high-cpu"],
        ["high-memory"],
        [],
    )
    assert pruned["rules"]["deleted"] == ["api-errors", "slow-responses"]
    assert sorted(session.scalars(select(Alert.name))) == ["high-cpu", "high-memory"]
    assert service.get_rule(session=session, principal=VIEWER, rule="high-cpu").threshold == 85.0


def test_a_bad_file_is_refused_whole_with_every_problem_placed(session: Session) -> None:
    document = yaml.safe_load(SEED_ALARMS.read_text())
    document["rules"][1]["datapoints_to_alarm"] = 9
    document["rules"][2]["metric_name"] = "Errors5XX"
    document["channels"][0]["type"] = "fax"
    document["alarms"] = []
    with pytest.raises(InvalidRulesFile) as caught:
        parse_rules_document(document)
    assert caught.value.errors == {
        "alarms": "unknown top-level key (use channels and rules)",
        "channels[0] ops-email: type": "'fax' is not one of email, slack, webhook, pagerduty, sns",
        "rules[1] high-memory: datapoints_to_alarm": "must not exceed evaluation_periods (9 > 5)",
        "rules[2] api-errors: metric_name": "'Errors5XX' is not collected for dynamodb_table; choose one of "
        "ConsumedReadCapacityUnits, ConsumedWriteCapacityUnits, SuccessfulRequestLatency:GetItem, "
        "SuccessfulRequestLatency:PutItem, ThrottledRequests:GetItem, ThrottledRequests:PutItem, "
        "ThrottledRequests:Query",
    }


def test_unknown_channels_and_bad_yaml_store_nothing(session: Session, tmp_path: Path) -> None:
    document = yaml.safe_load(SEED_ALARMS.read_text())
    document["channels"] = document["channels"][:1]
    with pytest.raises(
        InvalidRulesFile, match="rules high-cpu: channels: unknown channel\\(s\\): oncall-pagerduty"
    ):
        apply_rules(session=session, principal=OPERATOR, rules_file=parse_rules_document(document))
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [name: x\n")
    with pytest.raises(InvalidRulesFile, match="file: not valid YAML"):
        load_rules_file(broken)
    with pytest.raises(PermissionDenied):
        apply_rules(session=session, principal=VIEWER, rules_file=load_rules_file(SEED_ALARMS))
    assert (_count(session, Alert), _count(session, NotificationChannel), _count(session, AuditEntry)) == (
        0,
        0,
        0,
    )


def test_the_sandbox_rules_file_is_valid() -> None:
    rules_file = load_rules_file(SANDBOX_RULES)
    assert [(rule.name, rule.metric_name, rule.threshold) for rule in rules_file.rules] == [
        ("incident-cpu", "CPUUtilization", 90.0),
        ("table-throttling", "ThrottledRequests:PutItem", 0.0),
    ]
    assert {channel.name: channel.type.value for channel in rules_file.channels} == {
        "demo-mail": "email",
        "demo-webhook": "webhook",
    }
