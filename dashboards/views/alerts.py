"""Alerts: rules with their states, a rule form with a backtest preview, history, silences, deliveries.

Everyone who may view sees every tab; only a role that may manage alerts gets the controls, and
the alert service checks that role again on every change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.alert_forms import FieldSlots, rule_form, silence_form
from oaktree.alerts import service
from oaktree.alerts.channels import InvalidChannel
from oaktree.alerts.rules import ComparisonOperator, InvalidRule
from oaktree.alerts.silences import InvalidSilence
from oaktree.auth.errors import PermissionDenied
from oaktree.auth.roles import Permission

BACKTEST_DAYS = 7
HISTORY_LIMIT = 200
FLASH_KEY = "alerts_flash"
FORM_GENERATION_KEY = "alerts_form_generation"


def when(value: datetime | None) -> str:
    """Return a stored time in the user's time zone (stored naive times are UTC)."""
    if value is None or pd.isna(value):
        return ""
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return page.local(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def covers(rule: Mapping[str, Any]) -> str:
    """Return what a rule watches, in words."""
    if rule.get("resource_id"):
        return str(rule["resource_id"])
    selector = rule.get("selector") or {}
    words = f"every {rule['resource_type']}"
    if selector.get("region"):
        words += f" in {selector['region']}"
    if selector.get("tags"):
        words += " with " + ", ".join(f"{k}={v}" for k, v in selector["tags"].items())
    return words


def rule_condition(rule: Mapping[str, Any]) -> str:
    """Return a rule's condition, e.g. `CPUUtilization Average > 80 (2 of 3 x 300 s)`."""
    operator = ComparisonOperator(rule["comparison_operator"])
    periods = f"{rule['datapoints_to_alarm']} of {rule['evaluation_periods']} x {rule['period']} s"
    width = f"{rule['threshold']:g} spreads" if operator.is_band else f"{rule['threshold']:g}"
    return f"{rule['metric_name']} {rule['statistic']} {operator.symbol} {width} ({periods})"


def silencing(rule_name: str, silences: list[dict[str, Any]]) -> str:
    """Return how the active silences touch a rule: all of it, some resources or tags, or not at all."""
    active = [s for s in silences if s["active"]]
    if any(s["rule"] == rule_name and not s["resource_id"] and not s["tag"] for s in active):
        return "silenced"
    if any(s["rule"] in (None, rule_name) for s in active):
        return "partly silenced"
    return ""


def rules_table(rules: list[dict[str, Any]], silences: list[dict[str, Any]]) -> pd.DataFrame:
    """Return one row per rule: state counts, last transition and silences."""
    rows = []
    for rule in rules:
        counts = rule["counts"]
        last = max((s["since"] for s in rule["states"]), default=None)
        state = "ALARM" if counts["ALARM"] else "OK" if counts["OK"] else "INSUFFICIENT_DATA"
        rows.append(
            {
                "rule": rule["name"],
                "state": state if rule["enabled"] else "disabled",
                "severity": rule["severity"],
                "condition": rule_condition(rule),
                "covers": covers(rule),
                "in ALARM": counts["ALARM"],
                "OK": counts["OK"],
                "no data": counts["INSUFFICIENT_DATA"],
                "last transition": when(last),
                "silences": silencing(rule["name"], silences),
                "channels": ", ".join(rule.get("channels", [])),
            }
        )
    return pd.DataFrame(rows)


def flash(message: str) -> None:
    """Keep a success message for the next run (actions rerun the page to show their result)."""
    st.session_state[FLASH_KEY] = message


def attempt(action: Callable[[], Any], slots: FieldSlots | None = None) -> Any:
    """Run a service call; show its validation errors by field, or its refusal, and return None on failure."""
    try:
        return action()
    except (InvalidRule, InvalidSilence, InvalidChannel) as exc:
        stray = slots.show(exc.errors) if slots is not None else [str(exc)]
        if stray or slots is None:
            context.show_error("Not saved: " + "; ".join(stray or [str(exc)]))
        else:
            context.show_error("Not saved: correct the fields marked above.")
    except PermissionDenied as exc:
        context.show_error(f"Not allowed: {exc}")
    except (service.RuleNotFound, service.SilenceNotFound) as exc:
        context.show_error(f"{exc}: it may have been deleted meanwhile. Reload the page.")
    return None


def show_backtest(draft: dict[str, Any], slots: FieldSlots) -> None:
    """Replay the draft over the last week and say how often it would have fired, and where."""
    from oaktree.warehouse.errors import WarehouseNotFound

    connection = context.warehouse(quiet=True)
    if connection is None:
        st.info("No history to replay yet: the warehouse fills as collection runs.")
        return
    try:
        result = service.backtest_rule(
            principal=page.principal,
            draft=draft,
            settings=page.settings,
            days=BACKTEST_DAYS,
            warehouse=connection,
        )
    except InvalidRule as exc:
        stray = slots.show(exc.errors)
        context.show_error(
            "Cannot preview: " + ("; ".join(stray) if stray else "correct the fields marked above.")
        )
        return
    except WarehouseNotFound:
        st.info("No history to replay yet: the warehouse fills as collection runs.")
        return
    times = "once" if result.fired == 1 else f"{result.fired} times"
    st.info(
        f"**Backtest:** this rule would have fired {times} in the last {BACKTEST_DAYS} days "
        f"({len(result.resources)} resources replayed at {result.resolution} resolution).",
        icon=":material/history:",
    )
    fired = [r for r in result.resources if r.fired or r.alarm_periods]
    if fired:
        context.show_table(
            pd.DataFrame(
                {
                    "resource": r.name,
                    "region": r.region,
                    "fired": r.fired,
                    "held while flapping": r.fired_while_flapping,
                    "periods in ALARM": r.alarm_periods,
                    "fired at": ", ".join(when(t) for t in r.fired_at[:10]),
                    "resource_id": r.resource_id,
                }
                for r in fired
            ),
            key="backtest",
            file_name="oaktree-backtest",
        )


def next_form_generation() -> None:
    """Empty the new-rule form after a save (its widgets get fresh keys)."""
    st.session_state[FORM_GENERATION_KEY] = st.session_state.get(FORM_GENERATION_KEY, 0) + 1


def rules_tab(rules: list[dict[str, Any]], silences: list[dict[str, Any]], channel_names: list[str]) -> None:
    if not rules:
        hint = "Create one in **New rule**" if can_manage else "An operator or admin can create them"
        st.info(f"No alert rules yet. {hint}, or apply a rules file with `oaktree alerts apply`.")
        return
    alarms = sum(rule["counts"]["ALARM"] for rule in rules)
    figures = st.columns(3)
    figures[0].metric("Rules", len(rules), help=f"{sum(r['enabled'] for r in rules)} enabled")
    figures[1].metric("In ALARM", alarms, help="rule-resource pairs in ALARM now")
    figures[2].metric("Active silences", sum(s["active"] for s in silences))
    context.show_table(rules_table(rules, silences), key="alert-rules", file_name="oaktree-alert-rules")

    by_name = {rule["name"]: rule for rule in rules}
    chosen = st.selectbox("Rule", list(by_name), key="alerts-chosen-rule")
    rule = by_name[chosen]
    st.caption(f"{rule_condition(rule)} on {covers(rule)}. {rule.get('description') or ''}")
    if rule["states"]:
        states = pd.DataFrame(
            {
                "resource_id": s["resource_id"],
                "region": s["region"],
                "state": s["state"],
                "since": when(s["since"]),
                "reason": s["reason"],
                "flapping": s["flapping"],
            }
            for s in rule["states"]
        )
        context.show_table(states, key="alert-rule-states", file_name=f"oaktree-rule-{rule['id']}-states")
    else:
        st.caption("Not evaluated on any resource yet: every resource it covers starts in INSUFFICIENT_DATA.")
    if not can_manage:
        return

    actions = st.columns([1, 1, 1, 3])
    toggle_label = "Disable" if rule["enabled"] else "Enable"
    if actions[0].button(
        toggle_label, key=f"alerts-toggle-{rule['id']}", icon=":material/power_settings_new:"
    ):
        with context.db_session() as session:
            done = attempt(
                lambda: service.set_rule_enabled(
                    session=session, principal=page.principal, rule=rule["id"], enabled=not rule["enabled"]
                )
            )
        if done is not None:
            flash(f"Rule {rule['name']} {'enabled' if done.enabled else 'disabled'}.")
            st.rerun()
    editing = actions[1].toggle("Edit", key=f"alerts-edit-{rule['id']}")
    with actions[2].popover("Delete", icon=":material/delete:"):
        st.write(f"Delete **{rule['name']}**? Its open alerts are resolved; its history stays.")
        if st.button(f"Delete {rule['name']}", type="primary", key=f"alerts-delete-{rule['id']}"):
            with context.db_session() as session:
                deleted = attempt(
                    lambda: (
                        service.delete_rule(session=session, principal=page.principal, rule=rule["id"])
                        or True
                    )
                )
            if deleted:
                flash(f"Rule {rule['name']} deleted.")
                st.rerun()
    if editing:
        with st.container(border=True):
            draft, slots = rule_form(
                key=f"edit-{rule['id']}",
                existing=rule,
                channel_names=channel_names,
                regions=page.settings.regions,
            )
            buttons = st.columns([1, 1, 4])
            preview = buttons[0].button("Preview backtest", key=f"edit-preview-{rule['id']}")
            save = buttons[1].button("Save changes", type="primary", key=f"edit-save-{rule['id']}")
            if preview:
                show_backtest(draft, slots)
            if save:
                with context.db_session() as session:
                    stored = attempt(
                        lambda: service.update_rule(
                            session=session, principal=page.principal, rule=rule["id"], draft=draft
                        ),
                        slots,
                    )
                if stored is not None:
                    st.session_state.pop(f"alerts-edit-{rule['id']}", None)
                    flash(f"Rule {stored.name} saved.")
                    st.rerun()


def new_rule_tab(channel_names: list[str]) -> None:
    st.caption(
        "A rule fires when at least M of the last N periods breach the threshold (CloudWatch's "
        "semantics). Preview it against the last week of stored data before you save it."
    )
    generation = st.session_state.get(FORM_GENERATION_KEY, 0)
    with st.container(border=True):
        draft, slots = rule_form(
            key=f"new-rule-{generation}",
            existing=None,
            channel_names=channel_names,
            regions=page.settings.regions,
        )
        buttons = st.columns([1, 1, 4])
        preview = buttons[0].button("Preview backtest", key=f"new-preview-{generation}")
        save = buttons[1].button("Create rule", type="primary", key=f"new-save-{generation}")
    if preview:
        show_backtest(draft, slots)
    if save:
        with context.db_session() as session:
            stored = attempt(
                lambda: service.create_rule(session=session, principal=page.principal, draft=draft), slots
            )
        if stored is not None:
            next_form_generation()
            flash(f"Rule {stored.name} created. It is evaluated at the next pass (every minute).")
            st.rerun()


def notifications_summary(notes: list[dict[str, Any]]) -> str:
    return "; ".join(f"{n['channel']}: {n['kind']} {n['status']} ({n['attempts']} attempts)" for n in notes)


def history_tab(rules: list[dict[str, Any]]) -> None:
    filters = st.columns(2)
    rule_name = filters[0].selectbox(
        "Rule",
        ["", *sorted(r["name"] for r in rules)],
        format_func=lambda r: r or "every rule",
        key="history-rule",
    )
    resource_id = filters[1].text_input("Resource id", placeholder="every resource", key="history-resource")
    with context.db_session() as session:
        history = service.list_history(
            session=session,
            principal=page.principal,
            rule=rule_name or None,
            resource_id=resource_id.strip() or None,
            limit=HISTORY_LIMIT,
        )
    if not history:
        st.info("No transitions yet. Each rule-resource's first evaluation records one (usually to OK).")
        return
    table = pd.DataFrame(
        {
            "id": t["id"],
            "recorded": when(t["recorded_at"]),
            "rule": t["rule"],
            "resource_id": t["resource_id"],
            "from": t["from"],
            "to": t["to"],
            "reason": t["reason"],
            "severity": t["severity"],
            "silenced": t["silenced"],
            "flapping": t["flapping"],
            "notifications": notifications_summary(t["notifications"]),
        }
        for t in history
    )
    context.show_table(table, key="alert-history", file_name="oaktree-alert-history")
    by_id = {t["id"]: t for t in history}
    chosen = st.selectbox(
        "Transition",
        list(by_id),
        format_func=lambda i: (
            f"{when(by_id[i]['recorded_at'])}  {by_id[i]['rule']} on {by_id[i]['resource_id']}: "
            f"{by_id[i]['from']} → {by_id[i]['to']}"
        ),
        key="history-transition",
    )
    transition = by_id[chosen]
    st.markdown(f"**Reason:** {transition['reason']}")
    if transition["datapoints"]:
        st.markdown("**Datapoints it looked at**")
        st.dataframe(pd.DataFrame(transition["datapoints"]), hide_index=True, key="history-datapoints")
    attempts = [
        {
            "channel": note["channel"],
            "kind": note["kind"],
            "status": note["status"],
            "attempt at": when(a["at"]),
            "outcome": a["outcome"],
            "error": a["error"],
            "retry after (s)": a["retry_after_seconds"],
            "duration (ms)": a["duration_ms"],
        }
        for note in transition["notifications"]
        for a in note["delivery_attempts"]
    ]
    if transition["notifications"] and not attempts:
        st.caption(
            "Notifications queued; no delivery attempt yet: "
            + notifications_summary(transition["notifications"])
        )
    elif attempts:
        st.markdown("**Delivery attempts**")
        st.dataframe(pd.DataFrame(attempts), hide_index=True, key="history-attempts")
    elif not transition["notifications"]:
        st.caption(
            "No notification: the rule has no channels, or this change is not notified (OK ↔ no data)."
        )


def silences_tab(rules: list[dict[str, Any]]) -> None:
    include_expired = st.toggle("Show ended silences", key="silences-expired")
    with context.db_session() as session:
        silences = service.list_silences(
            session=session, principal=page.principal, include_expired=include_expired
        )
    if silences:
        table = pd.DataFrame(
            {
                "id": s["id"],
                "active now": s["active"],
                "rule": s["rule"] or "any",
                "resource_id": s["resource_id"] or "any",
                "tag": s["tag"] or "",
                "from": when(s["starts_at"]),
                "until": when(s["ends_at"]) or "repeats",
                "weekly windows": ", ".join(
                    f"{','.join(w['days'])} {w['start']}-{w['end']}" for w in s["weekly_windows"]
                ),
                "time zone": s["timezone"],
                "comment": s["comment"],
                "by": s["created_by"],
                "ended": when(s["ended_at"]),
            }
            for s in silences
        )
        context.show_table(table, key="alert-silences", file_name="oaktree-silences")
    else:
        st.info("No silences. A silence holds notifications (transitions are still recorded).")
    if not can_manage:
        return
    open_ones = [s for s in silences if not s["expired"]]
    if open_ones:
        ending = st.columns([2, 1], vertical_alignment="bottom")
        silence_id = ending[0].selectbox(
            "End a silence now",
            [s["id"] for s in open_ones],
            format_func=lambda i: f"#{i} " + next(s["comment"] or "" for s in open_ones if s["id"] == i),
            key="silences-end-choice",
        )
        if ending[1].button("End silence", key="silences-end"):
            with context.db_session() as session:
                ended = attempt(
                    lambda: service.end_silence(
                        session=session, principal=page.principal, silence_id=silence_id
                    )
                )
            if ended is not None:
                flash(f"Silence #{silence_id} ended.")
                st.rerun()
    st.markdown("**New silence or maintenance window**")
    generation = st.session_state.get(FORM_GENERATION_KEY, 0)
    with st.container(border=True):
        draft, slots = silence_form(key=f"silence-{generation}", rule_names=sorted(r["name"] for r in rules))
        create = st.button("Create silence", type="primary", key=f"silence-create-{generation}")
    if create:
        with context.db_session() as session:
            created = attempt(
                lambda: service.create_silence(session=session, principal=page.principal, draft=draft), slots
            )
        if created is not None:
            next_form_generation()
            flash(f"Silence #{created['id']} created.")
            st.rerun()


def deliveries_tab() -> None:
    with context.db_session() as session:
        summary = service.delivery_summary(session=session, principal=page.principal)
        channels = service.list_channels(session=session, principal=page.principal)
    if summary:
        table = pd.DataFrame(
            {
                "channel": row["channel"],
                **{
                    status: row["by_status"].get(status, 0)
                    for status in ("sent", "pending", "failed", "unknown")
                },
                "newest error": row["last_error"] or "",
                "error at": when(row["last_error_at"]),
            }
            for row in summary
        )
        context.show_table(table, key="alert-deliveries", file_name="oaktree-deliveries")
    else:
        st.info("Nothing sent yet: notifications appear here once a rule with channels changes state.")
    if channels:
        st.markdown("**Channels** (secrets are shown masked)")
        shown = pd.DataFrame(
            {
                "name": c["name"],
                "type": c["type"],
                "settings": ", ".join(f"{k}={v}" for k, v in c.items() if k not in {"name", "type"}),
            }
            for c in channels
        )
        context.show_table(shown, key="alert-channels", file_name="oaktree-channels")
    else:
        st.caption("No channels defined: define them in a rules file (`oaktree alerts apply`).")


page = context.current_page_context()
can_manage = page.principal.can(Permission.MANAGE_ALERTS)
st.title("Alerts")
if message := st.session_state.pop(FLASH_KEY, None):
    st.success(message, icon=":material/check_circle:")
if not can_manage:
    st.caption("You can see every rule, its history and silences; an operator or admin can change them.")

with context.db_session() as session:
    all_rules = service.list_rules(session=session, principal=page.principal)
    active_silences = service.list_silences(session=session, principal=page.principal)
    channel_names = [c["name"] for c in service.list_channels(session=session, principal=page.principal)]

names = (
    ["Rules", "New rule", "History", "Silences", "Deliveries"]
    if can_manage
    else [
        "Rules",
        "History",
        "Silences",
        "Deliveries",
    ]
)
tabs = dict(zip(names, st.tabs(names), strict=True))
with tabs["Rules"]:
    rules_tab(all_rules, active_silences, channel_names)
if can_manage:
    with tabs["New rule"]:
        new_rule_tab(channel_names)
with tabs["History"]:
    history_tab(all_rules)
with tabs["Silences"]:
    silences_tab(all_rules)
with tabs["Deliveries"]:
    deliveries_tab()
