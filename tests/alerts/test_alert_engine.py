"""The evaluation pass on a known lake and a real database: fleets, transitions, outbox, silences, flaps."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AlertNotification, AlertState, AlertTransition
from oaktree.alerts import service
from oaktree.alerts.engine import record_transition_events, run_pass
from oaktree.config import Settings
from oaktree.eventlog import read_resource_events
from oaktree.storage.tables import ensure_tables
from oaktree.warehouse import connect, read
from tests.alerts.conftest import OPERATOR
from tests.alerts.estate import (
    API,
    DEV,
    FAR,
    MINUTE,
    T0,
    TABLE,
    WEB,
    cpu_rule,
    minute_points,
    save_estate,
    write,
)

NOW = T0 + 12 * MINUTE  # points cover 12:00-12:09; with the 120 s settling, 12:05-12:09 is evaluated


def _channels(session: Session) -> None:
    service.put_channel(
        session=session,
        principal=OPERATOR,
        draft={"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/x"},
    )
    service.put_channel(
        session=session, principal=OPERATOR, draft={"name": "mail", "type": "email", "to": "ops@example.com"}
    )


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_fleet_rule_fires_on_the_resources_it_covers_and_queues_one_notification_per_channel(
    estate: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    _channels(session)
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=["hook", "mail"]))

    report = run_pass(settings=estate, factory=factory, now=NOW)

    assert (report.rules, report.targets, report.queries) == (1, 2, 1)
    transitions = {(t["resource_id"], t["from"], t["to"]) for t in report.transitions}
    assert transitions == {("i-web", "INSUFFICIENT_DATA", "ALARM"), ("i-api", "INSUFFICIENT_DATA", "OK")}
    web = next(t for t in report.transitions if t["resource_id"] == "i-web")
    assert web["reason"].startswith("3 of the last 3 datapoints [95 (12:09), 95 (12:08), 95 (12:07)]")
    assert web["evaluated_at"] == T0 + 10 * MINUTE

    session.expire_all()
    stored = session.scalars(select(AlertTransition).where(AlertTransition.resource_id == "i-web")).one()
    assert [point["value"] for point in stored.datapoints] == [95.0, 95.0, 95.0]
    assert (stored.episode, stored.silenced, stored.flapping) == (1, False, False)
    notes = session.scalars(select(AlertNotification).order_by(AlertNotification.channel_name)).all()
    assert [(n.channel_name, n.kind, n.status) for n in notes] == [
        ("hook", "trigger", "pending"),
        ("mail", "trigger", "pending"),
    ]
    assert notes[0].payload["resource_name"] == "web" and notes[0].payload["to_state"] == "ALARM"
    assert notes[0].dedup_key == notes[1].dedup_key and notes[0].dedup_key.endswith("-1")
    states = {row.resource_id: (row.state, row.notified_state) for row in session.scalars(select(AlertState))}
    assert states == {"i-web": ("ALARM", "ALARM"), "i-api": ("OK", "OK")}


def test_the_same_pass_twice_records_and_queues_nothing_more(
    estate: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    _channels(session)
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=["hook"]))
    run_pass(settings=estate, factory=factory, now=NOW)
    again = run_pass(settings=estate, factory=factory, now=NOW)
    later = run_pass(settings=estate, factory=factory, now=NOW + 30 * timedelta(seconds=1))
    assert again.transitions == [] and later.transitions == []
    assert (again.notifications_enqueued, later.notifications_enqueued) == (0, 0)
    assert (_count(session, AlertTransition), _count(session, AlertNotification)) == (2, 1)


def test_collection_lag_is_not_missing_data(
    estate: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    # Missing data counts as breaching; collection stopped at 12:09, and it is now 12:30.
    service.create_rule(
        session=session, principal=OPERATOR, draft=cpu_rule(name="calm", treat_missing_data="breaching")
    )
    report = run_pass(settings=estate, factory=factory, now=T0 + 30 * MINUTE)
    api = next(t for t in report.transitions if t["resource_id"] == "i-api")
    # Evaluated up to where collection got to, not up to the clock: no false alarm.
    assert (api["to"], api["evaluated_at"]) == ("OK", T0 + 10 * MINUTE)


def test_every_transition_becomes_an_event_in_dynamodb_and_the_warehouse_once(
    aws: None, estate: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    ensure_tables(
        metrics_table=estate.metrics_table, events_table=estate.events_table, region=estate.storage_region
    )
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule())
    run_pass(settings=estate, factory=factory, now=NOW)

    assert record_transition_events(factory=factory, settings=estate) == 2
    assert record_transition_events(factory=factory, settings=estate) == 0
    [event] = read_resource_events(estate, "i-web")
    assert (event["event_type"], event["severity"], event["message"]) == (
        "alarm_state_changed",
        "critical",
        "high-cpu: INSUFFICIENT_DATA -> ALARM",
    )
    assert event["details"]["to"] == "ALARM" and len(event["details"]["datapoints"]) == 3
    with connect(settings=estate) as warehouse:
        stored = read.events(warehouse, event_types=["alarm_state_changed"])
    assert sorted(stored["resource_id"]) == ["i-api", "i-web"]


def test_a_silence_holds_notifications_and_its_end_sends_one_catch_up(
    estate: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    _channels(session)
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=["hook"]))
    silence = service.create_silence(
        session=session,
        principal=OPERATOR,
        draft={"resource_id": "i-web", "duration_minutes": 60},
        now=NOW - MINUTE,
    )
    held = run_pass(settings=estate, factory=factory, now=NOW)
    web = next(t for t in held.transitions if t["resource_id"] == "i-web")
    assert (web["to"], web["silenced"]) == ("ALARM", True)
    assert (held.notifications_enqueued, held.notifications_held) == (0, 1)

    service.end_silence(session=session, principal=OPERATOR, silence_id=silence["id"], now=NOW + MINUTE)
    caught_up = run_pass(settings=estate, factory=factory, now=NOW + MINUTE)
    assert caught_up.transitions == [] and caught_up.notifications_enqueued == 1
    assert run_pass(settings=estate, factory=factory, now=NOW + 2 * MINUTE).notifications_enqueued == 0
    session.expire_all()
    [note] = session.scalars(select(AlertNotification)).all()
    assert (note.kind, note.payload["from_state"], note.payload["to_state"]) == ("trigger", "OK", "ALARM")


def test_a_weekly_maintenance_window_on_a_tag_holds_notifications(
    estate: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    _channels(session)
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=["hook"]))
    # T0 is a Tuesday; the window is Tuesdays 11:00-13:00 in UTC.
    service.create_silence(
        session=session,
        principal=OPERATOR,
        draft={"tag": "env=prod", "weekly_windows": ["tue 11:00-13:00"]},
        now=T0,
    )
    report = run_pass(settings=estate, factory=factory, now=NOW)
    assert report.notifications_enqueued == 0
    assert all(t["silenced"] for t in report.transitions)


def test_a_resource_leaving_the_fleet_while_alarming_is_resolved(
    estate: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    _channels(session)
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=["hook"]))
    run_pass(settings=estate, factory=factory, now=NOW)
    save_estate(estate, [API, DEV, FAR, TABLE])  # the web instance was terminated

    report = run_pass(settings=estate, factory=factory, now=NOW + MINUTE)

    gone = next(t for t in report.transitions if t["resource_id"] == "i-web")
    assert (gone["from"], gone["to"]) == ("ALARM", "INSUFFICIENT_DATA")
    assert gone["reason"].startswith("no longer covered by the rule")
    session.expire_all()
    kinds = [n.kind for n in session.scalars(select(AlertNotification).order_by(AlertNotification.id))]
    assert kinds == ["trigger", "resolve"]


def test_disabling_or_deleting_an_alarming_rule_resolves_it_and_keeps_history(
    estate: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    _channels(session)
    service.create_rule(session=session, principal=OPERATOR, draft=cpu_rule(channels=["hook"]))
    run_pass(settings=estate, factory=factory, now=NOW)
    service.set_rule_enabled(session=session, principal=OPERATOR, rule="high-cpu", enabled=False, now=NOW)
    service.set_rule_enabled(session=session, principal=OPERATOR, rule="high-cpu", enabled=True, now=NOW)
    run_pass(settings=estate, factory=factory, now=NOW + MINUTE)  # fires again: a new episode
    service.delete_rule(session=session, principal=OPERATOR, rule="high-cpu", now=NOW + 2 * MINUTE)

    session.expire_all()
    notes = session.scalars(select(AlertNotification).order_by(AlertNotification.id)).all()
    assert [(n.kind, n.dedup_key[-2:]) for n in notes] == [
        ("trigger", "-1"),
        ("resolve", "-1"),
        ("trigger", "-2"),
        ("resolve", "-2"),
    ]
    history = service.list_history(session=session, principal=OPERATOR, rule="high-cpu", resource_id="i-web")
    assert [(h["from"], h["to"], h["rule_id"]) for h in history] == [
        ("ALARM", "INSUFFICIENT_DATA", None),
        ("INSUFFICIENT_DATA", "ALARM", None),
        ("ALARM", "INSUFFICIENT_DATA", None),
        ("INSUFFICIENT_DATA", "ALARM", None),
    ]
    assert history[0]["reason"] == "rule deleted" and history[2]["reason"] == "rule disabled"
    assert _count(session, AlertState) == 0


def test_flapping_holds_notifications_until_it_settles_then_sends_one(
    alert_settings: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    save_estate(alert_settings)
    # Alternating every minute for 8 minutes, then calm.
    write(alert_settings, minute_points(WEB, [95, 10] * 4 + [10] * 22))
    _channels(session)
    service.create_rule(
        session=session,
        principal=OPERATOR,
        draft=cpu_rule(
            name="flappy",
            selector=None,
            resource_id="i-web",
            evaluation_periods=1,
            datapoints_to_alarm=1,
            flap_transitions=3,
            flap_window_minutes=10,
            channels=["hook"],
        ),
    )
    kinds, flapping = [], []
    for minute in range(1, 31):
        report = run_pass(settings=alert_settings, factory=factory, now=T0 + (minute + 2) * MINUTE)
        session.expire_all()
        kinds.append(report.notifications_enqueued)
        state = session.get(AlertState, (report_rule_id(session), "i-web"))
        flapping.append(bool(state and state.flapping))
    # Trigger, resolve, trigger; then the fourth transition in 10 minutes holds the rest.
    assert kinds[:3] == [1, 1, 1]
    assert flapping.index(True) == 3
    settled = flapping.index(False, 3)
    assert sum(kinds[3:settled]) == 0
    # Once settled (OK), exactly one catch-up resolve goes out for the alarm its channels heard of.
    assert sum(kinds[settled:]) == 1
    notes = session.scalars(select(AlertNotification).order_by(AlertNotification.id)).all()
    assert [n.kind for n in notes] == ["trigger", "resolve", "trigger", "resolve"]


def report_rule_id(session: Session) -> int:
    return service.get_rule(session=session, principal=OPERATOR, rule="flappy").id or 0


def test_percentile_rules_read_the_minute_values_inside_each_period(
    alert_settings: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    save_estate(alert_settings)
    # Five-minute periods from 12:00; in the second, one minute of 100 lifts p95 above 80 but not the mean.
    write(alert_settings, minute_points(API, [10] * 5 + [10, 10, 10, 10, 100] + [10] * 5))
    service.create_rule(
        session=session,
        principal=OPERATOR,
        draft=cpu_rule(name="p95", selector=None, resource_id="i-api", statistic="p95", period=300,
                       evaluation_periods=1, datapoints_to_alarm=1, threshold=80),
    )  # fmt: skip
    service.create_rule(
        session=session,
        principal=OPERATOR,
        draft=cpu_rule(name="mean", selector=None, resource_id="i-api", period=300,
                       evaluation_periods=1, datapoints_to_alarm=1, threshold=80),
    )  # fmt: skip
    report = run_pass(settings=alert_settings, factory=factory, now=T0 + 12 * MINUTE)
    assert report.queries == 2  # one for the means, one for the percentiles
    outcome = {t["rule"]: t for t in report.transitions}
    assert outcome["p95"]["to"] == "ALARM" and outcome["mean"]["to"] == "OK"
    assert "82 (12:05)" in outcome["p95"]["reason"]  # p95 of [10, 10, 10, 10, 100] interpolates to 82


def test_dynamodb_per_operation_metrics_and_odd_periods(
    alert_settings: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    save_estate(alert_settings)
    throttles = [0] * 14 + [40] * 7
    write(
        alert_settings,
        minute_points(
            TABLE, throttles, metric_name="ThrottledRequests:PutItem", statistic="Sum", unit="Count"
        ),
    )
    service.create_rule(
        session=session,
        principal=OPERATOR,
        draft=cpu_rule(
            name="throttles",
            resource_type="dynamodb_table",
            selector={},
            metric_name="ThrottledRequests:PutItem",
            statistic="Sum",
            period=420,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            threshold=0,
            treat_missing_data="notBreaching",
        ),
    )
    report = run_pass(settings=alert_settings, factory=factory, now=T0 + 23 * MINUTE)
    [transition] = report.transitions
    # 7-minute periods are bucketed by the warehouse from 2000-01-03 (12:03, 12:10, 12:17, ...) and the
    # evaluation aligns the same way: [12:10, 12:17) holds three minutes of 40; [12:17, ...) is unsettled.
    assert (transition["to"], transition["reason"].split("[")[1].split("]")[0]) == ("ALARM", "120 (12:10)")
