"""Alert rules for the dashboard tests: a rule that fires on the estate's busy instance, evaluated once."""

from __future__ import annotations

from datetime import UTC, datetime

from oaktree import db
from oaktree.alerts import service
from oaktree.alerts.engine import run_pass
from oaktree.auth.roles import Principal
from oaktree.config import Settings
from tests.dashboards.estate import WEB

# web-1's CPU runs 80..89 % in the estate: above 70 it is in ALARM, and it would have fired once.
WEB_CPU_RULE = {
    "name": "web-cpu",
    "description": "web-1 runs hot",
    "resource_type": "ec2_instance",
    "resource_id": WEB.resource_id,
    "metric_name": "CPUUtilization",
    "statistic": "Average",
    "period": 60,
    "evaluation_periods": 3,
    "datapoints_to_alarm": 3,
    "threshold": 70,
    "comparison_operator": "GreaterThanThreshold",
    "severity": "critical",
}


def fire_web_cpu_rule(settings: Settings) -> None:
    """Create the web-cpu rule and run one evaluation pass, which puts web-1 in ALARM."""
    with db.session_scope(settings=settings) as session:
        service.create_rule(session=session, principal=Principal.system(), draft=WEB_CPU_RULE)
    report = run_pass(
        settings=settings, factory=db.session_factory(settings.sqlalchemy_url), now=datetime.now(UTC)
    )
    assert [(t["resource_id"], t["to"]) for t in report.transitions] == [(WEB.resource_id, "ALARM")]
