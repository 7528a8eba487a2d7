"""Infrastructure map: the estate as a tree coloured by health; a click opens a resource or a group."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.map_chart import HEALTH_LABELS, chart_height, clicked_node, echarts_option
from oaktree.alerts import service
from oaktree.auth.roles import Principal
from oaktree.infra_map import Health, InfraMap, NodeKind, alarms_by_resource, build_map
from oaktree.inventory import ResourceType
from oaktree.warehouse import read

EXPANDED_KEY = "map_expanded_groups"
TYPE_LABELS = {
    ResourceType.EC2_INSTANCE.value: "EC2 instances",
    ResourceType.ECS_CLUSTER.value: "ECS clusters",
    ResourceType.ECS_SERVICE.value: "ECS services",
    ResourceType.DYNAMODB_TABLE.value: "DynamoDB tables",
}
# Above this many nodes a graph is a hairball: "show every resource" warns first.
READABLE_NODES = 600


def alarm_states(principal: Principal) -> dict[str, list[str]]:
    """Return the rules in ALARM per resource (an empty map, said plainly, when alerts cannot be read)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with context.db_session() as session:
            return alarms_by_resource(service.list_rules(session=session, principal=principal))
    except SQLAlchemyError as exc:
        context.show_error(
            f"Alert states could not be read ({type(exc).__name__}); health shows states only."
        )
        return {}


def problems_table(
    infra_map: InfraMap, inventory: pd.DataFrame, alarms: dict[str, list[str]]
) -> pd.DataFrame:
    """Return the matching resources that are not OK (drawn or inside a collapsed group), worst first."""
    health = pd.Series(infra_map.health_by_resource, dtype=object)
    rows = inventory[inventory["resource_id"].isin(health.index)].copy()
    rows["health"] = rows["resource_id"].map(lambda rid: health[rid].value)
    rows = rows[rows["health"] != Health.OK.value]
    rows["rules in ALARM"] = rows["resource_id"].map(lambda rid: ", ".join(alarms.get(rid, ())))
    rows["rank"] = rows["health"].map({h.value: rank for rank, h in enumerate(Health)})
    rows = rows.sort_values(["rank", "region", "name"])
    return rows[["health", "name", "resource_type", "region", "state", "rules in ALARM", "resource_id"]]


page = context.current_page_context()
st.title("Infrastructure map")
st.caption(
    "Region → VPC → subnet → instance, ECS cluster → service, DynamoDB tables. Red: a rule is in "
    "ALARM; grey: stopped; green: OK. Click a resource to open it, a ◆ node to show the resources "
    "it summarises; scroll to zoom, drag to pan."
)

connection = context.warehouse()
if connection is None:
    st.stop()
inventory = context.cached_read(read.inventory, regions=page.regions, account_ids=page.account_ids)
if inventory.empty:
    where = f"in {page.region}" if page.region else "yet"
    st.info(
        f"No resources discovered {where}. Discovery runs every 10 minutes (`oaktree discover` runs it now); "
        "choose another region in the sidebar if this one is empty.",
        icon=":material/travel_explore:",
    )
    st.stop()

alarms = alarm_states(page.principal)
filters = st.columns([3, 2, 3, 2], vertical_alignment="bottom")
types = filters[0].multiselect(
    "Resource types",
    options=list(TYPE_LABELS),
    format_func=TYPE_LABELS.get,
    placeholder="All types",
    key="map_types",
)
health = filters[1].multiselect(
    "Health",
    options=list(Health),
    format_func=lambda h: HEALTH_LABELS[h],
    placeholder="Any health",
    key="map_health",
)
search = filters[2].text_input("Search", placeholder="name, id or tag value", key="map_search")
show_all = filters[3].toggle("Show every resource", key="map_show_all")

expanded: set[str] = st.session_state.setdefault(EXPANDED_KEY, set())
infra_map = build_map(
    inventory.to_dict("records"),
    alarms,
    resource_types=types or None,
    health=set(health) or None,
    search=search.strip() or None,
    expanded=expanded,
    max_children=10**9 if show_all else 25,
)
if show_all and len(infra_map.nodes) > READABLE_NODES:
    st.warning(
        f"{len(infra_map.nodes)} nodes are hard to read: zoom in, or filter by type, health or name.",
        icon=":material/zoom_in:",
    )

counts = infra_map.counts()
figures = st.columns(4)
figures[0].metric(
    "Resources", infra_map.matching_resources, help=f"{infra_map.total_resources} in the inventory"
)
figures[1].metric("In ALARM", counts[Health.ALARM])
figures[2].metric("Stopped", counts[Health.STOPPED])
figures[3].metric("OK", counts[Health.OK])

if not infra_map.nodes:
    st.info("Nothing matches these filters. Clear the search or choose more types or health states.")
    st.stop()

event = st.echarts_chart(
    echarts_option(infra_map),
    on_select="rerun",
    renderer="svg",
    height=chart_height(infra_map),
    alt=f"Infrastructure map of {infra_map.matching_resources} resources",
)
clicked = clicked_node(infra_map, event)
if clicked is not None:
    if clicked.kind is NodeKind.SUMMARY and clicked.group:
        expanded.add(clicked.group)
        st.rerun()
    elif clicked.resource_id:
        context.open_resource_detail(clicked.resource_id)
    elif clicked.group in expanded:
        expanded.discard(clicked.group)
        st.rerun()

if infra_map.collapsed:
    st.caption(
        f"{infra_map.shown_resources} of {infra_map.matching_resources} resources drawn; "
        f"{len(infra_map.collapsed)} large groups show their resources in ALARM and a ◆ summary of the rest."
    )
if expanded and st.button("Collapse the groups I opened", icon=":material/unfold_less:"):
    expanded.clear()
    st.rerun()

resources_on_map = [node for node in infra_map.nodes if node.resource_id]
chosen = st.selectbox(
    "Open a resource",
    options=[node.resource_id for node in resources_on_map],
    format_func=lambda rid: next(
        f"{n.label} ({n.kind.value}, {n.region})" for n in resources_on_map if n.resource_id == rid
    ),
    index=None,
    placeholder="Type a name to find it on the map",
    key="map_open_resource",
)
if chosen:
    context.open_resource_detail(chosen)

st.subheader("Needs attention")
problems = problems_table(infra_map, inventory, alarms)
if problems.empty:
    st.success("Every resource on the map is OK.", icon=":material/check_circle:")
else:
    context.show_table(problems, key="map-problems", file_name="oaktree-needs-attention")
