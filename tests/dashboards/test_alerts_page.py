"""The alerts page (AppTest through the router): list, form with field errors and backtest, actions, roles."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from oaktree import db
from oaktree.alerts import service
from oaktree.auth.errors import PermissionDenied
from oaktree.auth.roles import Principal
from oaktree.config import Settings
from tests.dashboards.alerting import WEB_CPU_RULE, fire_web_cpu_rule
from tests.dashboards.estate import EDGE, WEB

ALERTS = "views/alerts.py"


def errors(app: AppTest) -> list[str]:
    return [element.value for element in app.error]


def stored_rules(settings: Settings) -> dict[str, dict]:
    with db.session_scope(settings=settings) as session:
        return {r["name"]: r for r in service.list_rules(session=session, principal=Principal.system())}


def fill_new_rule(app: AppTest, **fields: str) -> None:
    for name, value in fields.items():
        app.text_input(key=f"new-rule-0-{name}").input(value)


def test_viewer_sees_rules_states_and_history_without_any_control(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    fire_web_cpu_rule(estate)
    app = open_app(users["viewer"], ALERTS)

    assert not app.exception, app.exception
    assert [tab.label for tab in app.tabs] == ["Rules", "History", "Silences", "Deliveries"]
    rules = app.dataframe[0].value
    assert list(rules["rule"]) == ["web-cpu"]
    assert list(rules["state"]) == ["ALARM"]
    assert list(rules["in ALARM"]) == [1]
    assert rules["condition"][0] == "CPUUtilization Average > 70 (3 of 3 x 60 s)"
    assert rules["last transition"][0] != ""
    history = next(
        df.value for df in app.dataframe if "reason" in df.value.columns and "from" in df.value.columns
    )
    assert list(history["to"]) == ["ALARM"]
    assert "70" in history["reason"][0]
    # No control that changes anything: no buttons but CSV downloads, no form.
    assert [b.label for b in app.button] == []
    assert not [t for t in app.text_input if t.key and t.key.startswith("new-rule")]
    assert not [t for t in app.toggle if t.key and t.key.startswith("alerts-edit")]


def test_operator_creates_a_rule_after_a_backtest_preview(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["operator"], ALERTS)
    assert not app.exception, app.exception
    assert "New rule" in [tab.label for tab in app.tabs]
    fill_new_rule(app, name="web-hot", resource=WEB.resource_id, threshold="75", period="60", n="3", m="2")
    app.button(key="new-preview-0").click().run()
    assert not app.exception, app.exception
    backtest = [info.value for info in app.info if "Backtest" in info.value]
    assert backtest and "would have fired once in the last 7 days" in backtest[0]

    app.button(key="new-save-0").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == [
        "Rule web-hot created. It is evaluated at the next pass (every minute)."
    ]
    assert list(app.dataframe[0].value["rule"]) == ["web-hot"]
    stored = stored_rules(estate)["web-hot"]
    assert (stored["threshold"], stored["datapoints_to_alarm"], stored["resource_id"]) == (
        75.0,
        2,
        WEB.resource_id,
    )
    # The form is empty again for the next rule.
    assert app.text_input(key="new-rule-1-name").value == ""


def test_invalid_rule_shows_each_message_under_its_field_and_stores_nothing(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["admin"], ALERTS)
    fill_new_rule(app, name="", threshold="eighty", n="2", m="5", period="90")
    app.button(key="new-save-0").click().run()

    assert not app.exception, app.exception
    shown = errors(app)
    assert "name: is required" in shown
    assert "threshold: must be a number, not 'eighty'" in shown
    assert "datapoints to alarm: must not exceed evaluation_periods (5 > 2)" in shown
    assert "period: must be a multiple of CPUUtilization's period (60 s)" in shown
    assert "Not saved: correct the fields marked above." in shown
    assert stored_rules(estate) == {}

    # A fleet rule with a malformed tag selector: the message sits under the tags.
    fill_new_rule(app, name="fleet", threshold="80", n="3", m="3", period="60", tags="env")
    app.button(key="new-preview-0").click().run()
    assert "selector: tags must look like key=value, not 'env'" in errors(app)


def test_operator_disables_enables_and_deletes_a_rule(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    fire_web_cpu_rule(estate)
    rule_id = stored_rules(estate)["web-cpu"]["id"]
    app = open_app(users["operator"], ALERTS)
    app.button(key=f"alerts-toggle-{rule_id}").click().run()
    assert [s.value for s in app.success] == ["Rule web-cpu disabled."]
    assert stored_rules(estate)["web-cpu"]["enabled"] is False
    assert list(app.dataframe[0].value["state"]) == ["disabled"]

    app.button(key=f"alerts-toggle-{rule_id}").click().run()
    assert stored_rules(estate)["web-cpu"]["enabled"] is True

    app.button(key=f"alerts-delete-{rule_id}").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == ["Rule web-cpu deleted."]
    assert stored_rules(estate) == {}
    assert "No alert rules yet" in app.info[0].value


def test_operator_edits_a_rule_with_the_same_form(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    fire_web_cpu_rule(estate)
    rule_id = stored_rules(estate)["web-cpu"]["id"]
    app = open_app(users["operator"], ALERTS)
    app.toggle(key=f"alerts-edit-{rule_id}").set_value(True).run()
    prefix = f"edit-{rule_id}"
    assert app.text_input(key=f"{prefix}-threshold").value == "70.0"
    app.text_input(key=f"{prefix}-threshold").input("95").run()
    app.button(key=f"edit-save-{rule_id}").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == ["Rule web-cpu saved."]
    assert stored_rules(estate)["web-cpu"]["threshold"] == 95.0


def test_silences_are_created_with_field_errors_first_and_ended(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    fire_web_cpu_rule(estate)
    app = open_app(users["operator"], ALERTS)
    app.button(key="silence-create-0").click().run()
    assert "rule: a silence must match a rule, a resource_id or a tag (or several)" in errors(app)

    app.selectbox(key="silence-0-rule").select("web-cpu")
    app.text_input(key="silence-0-weekly").input("sat,sun 25:00-26:00")
    app.button(key="silence-create-0").click().run()
    assert any(e.startswith("weekly windows: start and end must be different times") for e in errors(app))

    app.text_input(key="silence-0-weekly").input("")
    app.text_input(key="silence-0-tag").input(f"env={EDGE.tags['env']}")
    app.text_input(key="silence-0-comment").input("deploy")
    app.button(key="silence-create-0").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == ["Silence #1 created."]
    silences = next(df.value for df in app.dataframe if "active now" in df.value.columns)
    assert list(silences["comment"]) == ["deploy"]
    assert list(silences["active now"]) == [True]
    assert list(app.dataframe[0].value["silences"]) == ["partly silenced"]

    app.button(key="silences-end").click().run()
    assert [s.value for s in app.success] == ["Silence #1 ended."]
    with db.session_scope(settings=estate) as session:
        assert service.list_silences(session=session, principal=Principal.system()) == []


def test_the_service_refuses_a_viewer_even_when_a_control_is_reached(
    estate: Settings, users: dict[str, Principal]
) -> None:
    # The page shows no control to a viewer; the service it would call refuses by itself too.
    with db.session_scope(settings=estate) as session, pytest.raises(PermissionDenied):
        service.create_rule(session=session, principal=users["viewer"], draft=WEB_CPU_RULE)
    assert stored_rules(estate) == {}
