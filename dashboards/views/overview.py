"""Overview: the estate at a glance. Counts by type, state and region; resources in ALARM; the busiest
resources by CPU; how fresh each region's data is. Every number leads to the resources behind it."""

from datetime import UTC, datetime

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards.charts import GRAY, ORANGE
from dashboards.context import (
    PAGES,
    cached_read,
    current_page_context,
    db_session,
    show_resource_table,
    show_table,
    warehouse,
)
from oaktree import overview
from oaktree.warehouse import read

TYPE_LABELS = {
    "ec2_instance": "EC2 instances",
    "ecs_cluster": "ECS clusters",
    "ecs_service": "ECS services",
    "dynamodb_table": "DynamoDB tables",
}

page = current_page_context()
st.title("Overview")
scope = page.region or "all regions"
if page.account_id:
    scope = f"account {page.account_id} · {scope}"
st.caption(
    f"{scope} · {page.local(page.start):%Y-%m-%d %H:%M} to {page.local(page.end):%Y-%m-%d %H:%M} "
    f"({page.timezone.key})"
)

connection = warehouse()
if connection is None:
    st.stop()

counts = cached_read(overview.fleet_counts, regions=page.regions, account_ids=page.account_ids)
if counts.empty:
    st.info("No resources discovered yet: discovery runs every 10 minutes (`oaktree discover` runs it now).")
    st.stop()

with db_session() as session:
    alarms = overview.alarming_resources(
        session=session,
        principal=page.principal,
        regions=page.regions,
        resource_ids=None
        if page.account_id is None
        else set(cached_read(read.inventory, account_ids=page.account_ids)["resource_id"]),
    )

# Headline numbers; each links to the resources page filtered to what it counts.
per_type = counts.groupby("resource_type")["count"].sum()
columns = st.columns(len(TYPE_LABELS) + 1)
for column, (resource_type, label) in zip(columns, TYPE_LABELS.items(), strict=False):
    with column:
        st.metric(label, int(per_type.get(resource_type, 0)))
        st.page_link(str(PAGES["resources"]), label="list", query_params={"type": resource_type})
with columns[-1]:
    alarm_ids = {alarm["resource_id"] for alarm in alarms}
    st.metric("Resources in ALARM", len(alarm_ids))
    st.page_link(str(PAGES["alerts"]), label="alerts")

left, right = st.columns([3, 2])
with left:
    st.subheader("Fleet by type, state and region")
    figure = px.bar(
        counts.assign(type=counts["resource_type"].map(TYPE_LABELS).fillna(counts["resource_type"])),
        x="count",
        y="type",
        color="state",
        orientation="h",
        hover_data=["region"],
        color_discrete_sequence=[ORANGE, GRAY, "#fdba74", "#9ca3af", "#7c2d12"],
        labels={"count": "resources", "type": ""},
        height=260,
    )
    figure.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend_title_text="state")
    st.plotly_chart(figure, key="fleet-chart")
    pivot = counts.pivot_table(
        index=["resource_type", "state"], columns="region", values="count", fill_value=0
    )
    show_table(pivot.reset_index(), key="fleet-counts", file_name="fleet-counts")
with right:
    st.subheader("Resources in ALARM")
    if alarms:
        frame = pd.DataFrame(alarms)
        frame["since"] = frame["since"].map(
            lambda moment: page.local(moment.replace(tzinfo=moment.tzinfo or UTC))
        )
        show_resource_table(
            frame[["resource_id", "rule", "severity", "region", "since", "reason"]],
            key="alarms",
            file_name="resources-in-alarm",
        )
    else:
        st.success("No resource is in ALARM.", icon=":material/check_circle:")

st.subheader("Top resources by CPU")
top = cached_read(
    read.top_resources,
    metric_name="CPUUtilization",
    statistic="Average",
    start=page.start,
    end=page.end,
    limit=10,
    regions=page.regions,
    account_ids=page.account_ids,
)
if top.empty:
    st.info("No CPU data in this time range yet: collection stores a point per minute. Try a longer range.")
else:
    show_resource_table(
        top[["resource_id", "name", "resource_type", "region", "value", "peak"]],
        key="top-cpu",
        file_name="top-cpu",
        column_config={
            "value": st.column_config.ProgressColumn("mean CPU %", min_value=0, max_value=100, format="%.1f"),
            "peak": st.column_config.NumberColumn("peak CPU %", format="%.1f"),
        },
    )

st.subheader("Data freshness")
now = datetime.now(UTC).replace(second=0, microsecond=0)
regions = [page.region] if page.region else list(page.settings.regions)
freshness = cached_read(
    overview.data_freshness, now=now, regions=tuple(regions), account_ids=page.account_ids
)
late = freshness[freshness["status"] != "ok"]
if late.empty:
    st.caption("Every region's newest point is less than 5 minutes old.")
else:
    st.warning(
        "Collection is behind in "
        + ", ".join(f"{row.region} ({row.status})" for row in late.itertuples())
        + ": see Pipeline health.",
        icon=":material/schedule:",
    )
shown = freshness.assign(
    newest=freshness["newest"].map(
        lambda moment: None if moment is None or moment != moment else page.local(moment)
    ),
    lag_minutes=(freshness["lag_seconds"].astype(float) / 60).round(1),
).drop(columns=["lag_seconds"])
show_table(shown, key="freshness", file_name="data-freshness")
