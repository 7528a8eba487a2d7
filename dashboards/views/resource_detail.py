"""Resource detail: what the resource is, its catalogue metrics over the selected range (at the
resolution the range calls for), its events, the alert rules covering it, and (for operators and
admins) its actions with a confirmation step."""

from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards import charts
from dashboards.actions_panel import show_actions
from dashboards.context import (
    PAGES,
    cached_read,
    current_page_context,
    db_session,
    resource_detail_link,
    selected_resource_id,
    show_error,
    show_table,
    warehouse,
)
from dashboards.overlays import chart_overlays
from oaktree.alerts.service import rule_states
from oaktree.catalogue import specs_for
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse import read

page = current_page_context()
resource_id = selected_resource_id()
if resource_id is None:
    st.title("Resource detail")
    st.info("Pick a resource on the Resources page (or click one on the overview or the map).")
    st.page_link(str(PAGES["resources"]), label="Resources", icon=":material/dns:")
    st.stop()

if warehouse() is None:
    st.stop()
rows = cached_read(read.inventory, resource_ids=(resource_id,))
if rows.empty:
    st.title("Resource detail")
    show_error(
        f"No resource {resource_id!r} in the inventory: it may have been deleted, "
        "or discovery has not seen it yet."
    )
    st.page_link(str(PAGES["resources"]), label="Back to resources", icon=":material/dns:")
    st.stop()

record = rows.iloc[0].to_dict()
resource = Resource.from_record({key: (None if value is pd.NaT else value) for key, value in record.items()})
st.title(resource.name)
st.caption(f"{resource.resource_type.value} · {resource.region} · `{resource.resource_id}`")

facts = {
    "State": resource.state,
    "Instance type": resource.instance_type,
    "VPC / subnet": " / ".join(filter(None, [resource.vpc_id, resource.subnet_id])) or None,
    "Zone": resource.availability_zone,
    "Private IP": resource.private_ip,
    "Cluster": resource.cluster,
    "Tasks (running / desired)": (
        f"{resource.running_count} / {resource.desired_count}" if resource.desired_count is not None else None
    ),
    "Launch type": resource.launch_type,
    "Capacity mode": resource.capacity_mode,
    "Items": resource.item_count,
}
shown_facts = [(label, value) for label, value in facts.items() if value not in (None, "")]
for column, (label, value) in zip(
    st.columns(max(1, min(len(shown_facts), 5))), shown_facts[:5], strict=False
):
    column.metric(label, str(value))
extra = [f"**{label}:** {value}" for label, value in shown_facts[5:]]
if resource.tags:
    extra.append("**Tags:** " + ", ".join(f"`{key}={value}`" for key, value in sorted(resource.tags.items())))
if resource.last_seen is not None:
    extra.append(f"**Last seen by discovery:** {page.local(resource.last_seen):%Y-%m-%d %H:%M %Z}")
if extra:
    st.markdown(" · ".join(extra))

show_actions(page, resource)

# Metrics: every catalogue series of the type in one query, at the resolution the range calls for.
specs = specs_for(resource.resource_type)
resolution = read.pick_resolution(page.start, page.end)
if specs:
    st.subheader("Metrics")
    st.caption(
        f"{resolution.value} resolution for this range (table {resolution.table.name}), "
        f"times in {page.timezone.key}"
    )
    keys = pd.DataFrame(
        [
            {"resource_id": resource.resource_id, "metric_name": spec.series_name, "statistic": statistic}
            for spec in specs
            for statistic in spec.statistics
        ]
    )
    points = cached_read(
        read.series_for_keys, keys=keys, start=page.start, end=page.end, resolution=resolution
    )
    if points.empty:
        st.info(
            "No points for this resource in the selected range yet: collection stores one per minute, "
            "starting within a minute of discovery. Try a longer range."
        )
    else:
        columns = st.columns(2)
        index = 0
        for spec in specs:
            for statistic in spec.statistics:
                series = points[
                    (points["metric_name"] == spec.series_name) & (points["statistic"] == statistic)
                ]
                if series.empty:
                    continue
                overlays = chart_overlays(
                    resource_id=resource.resource_id,
                    metric_name=spec.series_name,
                    statistic=statistic,
                    start=page.start,
                    end=page.end,
                )
                figure = charts.metric_figure(
                    series,
                    title=f"{spec.series_name} ({statistic})",
                    unit=spec.unit,
                    timezone=page.timezone,
                    band=overlays.band,
                    forecast=overlays.forecast,
                )
                with columns[index % 2]:
                    st.plotly_chart(figure, key=f"chart-{spec.series_name}-{statistic}")
                index += 1
elif resource.resource_type is ResourceType.ECS_CLUSTER:
    st.subheader("Services")
    services = cached_read(
        read.inventory, resource_types=(ResourceType.ECS_SERVICE.value,), regions=(resource.region,)
    )
    services = services[services["cluster"] == resource.name]
    if services.empty:
        st.info("No services discovered in this cluster.")
    for service in services.itertuples():
        resource_detail_link(service.resource_id, label=f"{service.name} ({service.state})")

st.subheader("Events")
events = cached_read(
    read.events, resource_ids=(resource.resource_id,), start=page.start, end=page.end, limit=500
)
if events.empty:
    st.caption("No events in this range (discovery changes, alarms and actions appear here).")
else:
    local_ts = events["ts"].map(page.local)
    severity_y = {"info": 0, "warning": 1, "critical": 2}
    timeline = go.Figure(
        go.Scatter(
            x=local_ts,
            y=events["severity"].map(severity_y).fillna(0),
            mode="markers",
            marker={
                "size": 12,
                "color": events["severity"]
                .map({"info": charts.GRAY, "warning": charts.ORANGE})
                .fillna(charts.DARK_ORANGE),
            },
            text=events["event_type"] + ": " + events["message"],
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{text}<extra></extra>",
        )
    )
    timeline.update_layout(height=180, margin={"l": 10, "r": 10, "t": 10, "b": 10}, plot_bgcolor="white")
    timeline.update_yaxes(tickvals=[0, 1, 2], ticktext=["info", "warning", "critical"], range=[-0.5, 2.5])
    timeline.update_xaxes(
        title_text=f"time ({page.timezone.key})", range=[page.local(page.start), page.local(page.end)]
    )
    st.plotly_chart(timeline, key="events-timeline")
    show_table(
        pd.DataFrame(
            {
                "time": local_ts,
                "type": events["event_type"],
                "severity": events["severity"],
                "message": events["message"],
            }
        ),
        key="events",
        file_name=f"events-{resource.name}",
    )

st.subheader("Alert rules covering this resource")
with db_session() as session:
    states = rule_states(session=session, principal=page.principal, resource_id=resource.resource_id)
if not states:
    st.caption("No rule has evaluated this resource yet. Rules are managed on the Alerts page.")
else:
    now = datetime.now(UTC)
    frame = pd.DataFrame(states)
    frame["since"] = frame["since"].map(
        lambda moment: page.local(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    )
    frame["for"] = frame["since"].map(lambda moment: str(now - moment).split(".")[0])
    show_table(
        frame[["rule", "state", "since", "for", "reason", "flapping"]],
        key="rule-states",
        file_name=f"alert-states-{resource.name}",
    )
