"""The alert rule and silence forms: widgets that build a service draft, and each field's error under it.

The alert service validates (one message per bad field, nothing stored); these forms only
collect text and numbers, turn them into a draft with the rules file's field names, and show
each message under the widget it belongs to. The rule form is not an `st.form`: the metric and
statistic choices depend on the resource type, so the widgets rerun as they change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from oaktree.alerts.rules import (
    SEVERITIES,
    ComparisonOperator,
    TreatMissingData,
    metric_specs,
    rule_statistics,
)
from oaktree.catalogue import CATALOGUE

TYPE_LABELS = {
    "ec2_instance": "EC2 instance",
    "ecs_service": "ECS service",
    "dynamodb_table": "DynamoDB table",
}
OPERATOR_LABELS = {op.value: f"{op.symbol}  ({op.value})" for op in ComparisonOperator}
MISSING_LABELS = {
    TreatMissingData.MISSING.value: "missing: not enough data is INSUFFICIENT_DATA",
    TreatMissingData.NOT_BREACHING.value: "notBreaching: a gap counts as fine",
    TreatMissingData.BREACHING.value: "breaching: a gap counts as a breach",
    TreatMissingData.IGNORE.value: "ignore: a gap keeps the current state",
}
ALL_OF_TYPE = "every resource of the type"


def metric_names(resource_type: str) -> list[str]:
    """Return the stored metric names a rule on this type may watch, in catalogue order."""
    names: list[str] = []
    for spec in CATALOGUE:
        if spec.resource_type.value == resource_type and spec.series_name not in names:
            names.append(spec.series_name)
    return names


def statistics_for(resource_type: str, metric_name: str) -> list[str]:
    """Return the statistics a rule may use on one metric (collected ones and percentiles of gauges)."""
    specs = metric_specs(resource_type, metric_name)
    return list(rule_statistics(specs[0])) if specs else []


@dataclasses.dataclass
class FieldSlots:
    """Placeholders under each widget, filled with that field's message after validation."""

    slots: dict[str, DeltaGenerator] = dataclasses.field(default_factory=dict)

    def add(self, *fields: str) -> None:
        """Reserve one placeholder for one or more fields (shown together under the same widget)."""
        slot = st.empty()
        for name in fields:
            self.slots[name] = slot

    def show(self, errors: Mapping[str, str]) -> list[str]:
        """Show each error under its field; return the messages that have no field on this form."""
        grouped: dict[int, list[str]] = {}
        stray = []
        for name, message in errors.items():
            slot = self.slots.get(name)
            if slot is None:
                stray.append(f"{name}: {message}")
                continue
            grouped.setdefault(id(slot), []).append(f"{name.replace('_', ' ')}: {message}")
        for slot in {id(s): s for s in self.slots.values()}.values():
            messages = grouped.get(id(slot))
            if messages:
                slot.error("\n\n".join(messages), icon=":material/error:")
        return stray


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _index(options: Sequence[Any], value: Any, default: int = 0) -> int:
    return list(options).index(value) if value in options else default


def rule_form(
    *, key: str, existing: Mapping[str, Any] | None, channel_names: Sequence[str], regions: Sequence[str]
) -> tuple[dict[str, Any], FieldSlots]:
    """Show the rule's widgets (filled from `existing` when editing); return the draft and its slots."""
    old = dict(existing or {})
    slots = FieldSlots()
    top = st.columns([3, 2])
    with top[0]:
        name = st.text_input("Name", value=_text(old.get("name")), key=f"{key}-name", max_chars=200)
        slots.add("name")
    with top[1]:
        severity = st.selectbox(
            "Severity", SEVERITIES, index=_index(SEVERITIES, old.get("severity"), 2), key=f"{key}-severity"
        )
        slots.add("severity")
    description = st.text_input(
        "Description", value=_text(old.get("description")), key=f"{key}-description", max_chars=2000
    )
    slots.add("description")

    st.markdown("**What it watches**")
    target = st.columns(3)
    with target[0]:
        types = list(TYPE_LABELS)
        resource_type = st.selectbox(
            "Resource type",
            types,
            index=_index(types, old.get("resource_type")),
            format_func=TYPE_LABELS.get,
            key=f"{key}-type",
        )
        slots.add("resource_type")
    with target[1]:
        resource_id = st.text_input(
            "Resource id",
            value=_text(old.get("resource_id")),
            placeholder=ALL_OF_TYPE,
            help="An instance id, or the ARN of a service or table. Leave empty to cover every "
            "resource of the type, narrowed by region and tags.",
            key=f"{key}-resource",
        )
        slots.add("resource_id")
    selector = old.get("selector") or {}
    with target[2]:
        region_options = ["", *regions]
        region = st.selectbox(
            "Region (every resource only)",
            region_options,
            index=_index(region_options, selector.get("region")),
            format_func=lambda r: r or "all regions",
            key=f"{key}-region",
        )
        tags = st.text_input(
            "Tags (every resource only)",
            value=", ".join(f"{k}={v}" for k, v in (selector.get("tags") or {}).items()),
            placeholder="env=prod, team=data",
            key=f"{key}-tags",
        )
        slots.add("selector")

    st.markdown("**Condition**")
    condition = st.columns(4)
    with condition[0]:
        metrics = metric_names(resource_type)
        metric_name = st.selectbox(
            "Metric",
            metrics,
            index=_index(metrics, old.get("metric_name")),
            key=f"{key}-metric-{resource_type}",
        )
        slots.add("metric_name")
    with condition[1]:
        statistics = statistics_for(resource_type, metric_name or "")
        statistic = st.selectbox(
            "Statistic",
            statistics,
            index=_index(statistics, old.get("statistic")),
            key=f"{key}-statistic-{resource_type}-{metric_name}",
        )
        slots.add("statistic")
    with condition[2]:
        operators = list(OPERATOR_LABELS)
        comparison = st.selectbox(
            "Operator",
            operators,
            index=_index(operators, old.get("comparison_operator")),
            format_func=OPERATOR_LABELS.get,
            key=f"{key}-operator",
        )
        slots.add("comparison_operator")
    with condition[3]:
        threshold = st.text_input(
            "Threshold", value=_text(old.get("threshold", "")), placeholder="80", key=f"{key}-threshold"
        )
        slots.add("threshold")

    periods = st.columns(4)
    with periods[0]:
        period = st.text_input("Period (seconds)", value=_text(old.get("period", 300)), key=f"{key}-period")
        slots.add("period")
    with periods[1]:
        evaluation_periods = st.text_input(
            "Evaluation periods (N)", value=_text(old.get("evaluation_periods", 3)), key=f"{key}-n"
        )
        slots.add("evaluation_periods")
    with periods[2]:
        datapoints = st.text_input(
            "Datapoints to alarm (M of N)",
            value=_text(old.get("datapoints_to_alarm", old.get("evaluation_periods", 3))),
            key=f"{key}-m",
        )
        slots.add("datapoints_to_alarm")
    with periods[3]:
        treatments = list(MISSING_LABELS)
        treat_missing = st.selectbox(
            "Missing data",
            treatments,
            index=_index(treatments, old.get("treat_missing_data")),
            format_func=MISSING_LABELS.get,
            key=f"{key}-missing",
        )
        slots.add("treat_missing_data")

    with st.expander("Notifications, noise control and ownership", expanded=bool(old.get("channels"))):
        channels = st.multiselect(
            "Channels",
            list(channel_names),
            default=[c for c in old.get("channels", []) if c in channel_names],
            placeholder="none: record transitions without notifying",
            key=f"{key}-channels",
        )
        slots.add("channels")
        noise = st.columns(3)
        with noise[0]:
            recovery = st.text_input(
                "Recovery periods",
                value=_text(old.get("recovery_periods")),
                help="Hysteresis: once in ALARM, stay until this many evaluated periods are clear.",
                key=f"{key}-recovery",
            )
            slots.add("recovery_periods")
        with noise[1]:
            flap_transitions = st.text_input(
                "Flap transitions", value=_text(old.get("flap_transitions")), key=f"{key}-flap-n"
            )
            slots.add("flap_transitions")
        with noise[2]:
            flap_window = st.text_input(
                "Flap window (minutes)", value=_text(old.get("flap_window_minutes")), key=f"{key}-flap-window"
            )
            slots.add("flap_window_minutes")
        owner = st.text_input("Owner", value=_text(old.get("owner")), key=f"{key}-owner")
        slots.add("owner")
        enabled = st.checkbox("Enabled", value=bool(old.get("enabled", True)), key=f"{key}-enabled")

    draft: dict[str, Any] = {
        "name": name,
        "description": description,
        "severity": severity,
        "resource_type": resource_type,
        "metric_name": metric_name,
        "statistic": statistic,
        "comparison_operator": comparison,
        "threshold": threshold,
        "period": period,
        "evaluation_periods": evaluation_periods,
        "datapoints_to_alarm": datapoints,
        "treat_missing_data": treat_missing,
        "channels": channels,
        "recovery_periods": recovery,
        "flap_transitions": flap_transitions,
        "flap_window_minutes": flap_window,
        "owner": owner,
        "enabled": enabled,
    }
    if resource_id.strip():
        draft["resource_id"] = resource_id.strip()
    else:
        draft["selector"] = {"region": region or None, "tags": tags}
    return draft, slots


def silence_form(*, key: str, rule_names: Sequence[str]) -> tuple[dict[str, Any], FieldSlots]:
    """Show the silence widgets; return the draft (the service's silence fields) and its slots."""
    slots = FieldSlots()
    match = st.columns(3)
    with match[0]:
        rule = st.selectbox(
            "Rule", ["", *rule_names], format_func=lambda r: r or "any rule", key=f"{key}-rule"
        )
        slots.add("rule")
    with match[1]:
        resource_id = st.text_input("Resource id", placeholder="any resource", key=f"{key}-resource")
        slots.add("resource_id")
    with match[2]:
        tag = st.text_input("Tag", placeholder="env=staging", key=f"{key}-tag")
        slots.add("tag")
    when = st.columns(3)
    with when[0]:
        duration = st.text_input("For (minutes)", value="60", key=f"{key}-duration")
        slots.add("duration_minutes")
    with when[1]:
        ends_at = st.text_input(
            "Or until (ISO time, UTC if no offset)", placeholder="2026-01-31T18:00", key=f"{key}-ends"
        )
        slots.add("ends_at", "starts_at")
    with when[2]:
        weekly = st.text_input(
            "Weekly window (maintenance)",
            placeholder="sat,sun 02:00-04:00",
            help="Repeats every week inside this window (overnight allowed); leave the duration empty.",
            key=f"{key}-weekly",
        )
        timezone = st.text_input("Time zone of the window", value="UTC", key=f"{key}-timezone")
        slots.add("weekly_windows", "timezone")
    comment = st.text_input("Comment", placeholder="why: deploy, migration, ...", key=f"{key}-comment")
    slots.add("comment")
    draft: dict[str, Any] = {
        "rule": rule or None,
        "resource_id": resource_id.strip() or None,
        "tag": tag.strip() or None,
        "timezone": timezone.strip() or "UTC",
        "comment": comment,
    }
    if ends_at.strip():
        draft["ends_at"] = ends_at.strip()
    elif duration.strip():
        draft["duration_minutes"] = duration.strip()
    if weekly.strip():
        draft["weekly_windows"] = [weekly.strip()]
        if not ends_at.strip():
            draft.pop("duration_minutes", None)
    return draft, slots
