"""Resources: the inventory as a searchable, filterable table (type, state, tag, and the sidebar's
region); each row opens the resource's detail page."""

import pandas as pd
import streamlit as st

from dashboards.context import cached_read, current_page_context, show_resource_table, warehouse
from oaktree.inventory import ResourceType
from oaktree.warehouse import read

TYPE_LABELS = {
    ResourceType.EC2_INSTANCE.value: "EC2 instance",
    ResourceType.ECS_CLUSTER.value: "ECS cluster",
    ResourceType.ECS_SERVICE.value: "ECS service",
    ResourceType.DYNAMODB_TABLE.value: "DynamoDB table",
}


def parse_tag_filter(text: str) -> tuple[str, str | None] | None:
    """Return (key, value) for "key=value", (key, None) for "key", None for nothing."""
    text = text.strip()
    if not text:
        return None
    key, _, value = text.partition("=")
    return key.strip(), (value.strip() or None) if "=" in text else None


def tags_text(tags: object) -> str:
    """Return tags as "key=value, ..." for the table (DuckDB maps arrive as dicts)."""
    if not isinstance(tags, dict) or not tags:
        return ""
    return ", ".join(f"{key}={value}" for key, value in sorted(tags.items()))


page = current_page_context()
st.title("Resources")

if warehouse() is None:
    st.stop()

# The overview's links open this page pre-filtered (?type=...&state=...).
initial_types = [value for value in st.query_params.get_all("type") if value in TYPE_LABELS]
initial_states = st.query_params.get_all("state")

every = cached_read(read.inventory, regions=page.regions, account_ids=page.account_ids)
states = sorted(set(every["state"].dropna())) if not every.empty else []

search_column, type_column, state_column, tag_column = st.columns([3, 2, 2, 2])
search = search_column.text_input("Search", placeholder="id, name or tag value", key="resources-search")
types = type_column.multiselect(
    "Type",
    list(TYPE_LABELS),
    default=initial_types,
    format_func=TYPE_LABELS.__getitem__,
    key="resources-types",
)
chosen_states = state_column.multiselect(
    "State", states, default=[s for s in initial_states if s in states], key="resources-states"
)
tag_text = tag_column.text_input("Tag", placeholder="env=prod, or just env", key="resources-tag")
tag = parse_tag_filter(tag_text)
if tag is not None and not tag[0]:
    st.warning("A tag filter needs a key before the `=` (for example env=prod).")
    tag = None

found = cached_read(
    read.inventory,
    regions=page.regions,
    account_ids=page.account_ids,
    resource_types=tuple(types) or None,
    states=tuple(chosen_states) or None,
    tag=tag,
    search=search.strip() or None,
)
if every.empty:
    st.info("No resources discovered yet: discovery runs every 10 minutes (`oaktree discover` runs it now).")
    st.stop()
st.caption(f"{len(found)} of {len(every)} resources in {page.region or 'all regions'}")
if found.empty:
    st.info("Nothing matches these filters. Clear the search or pick other types or states.")
    st.stop()

table = pd.DataFrame(
    {
        "resource_id": found["resource_id"],
        "name": found["name"],
        "type": found["resource_type"].map(TYPE_LABELS).fillna(found["resource_type"]),
        "account": found["account_id"],
        "region": found["region"],
        "state": found["state"],
        "detail": found["instance_type"].fillna(found["cluster"]).fillna(found["capacity_mode"]),
        "tags": found["tags"].map(tags_text),
        "last_seen": found["last_seen"].map(lambda moment: page.local(moment) if pd.notna(moment) else None),
    }
)
show_resource_table(table, key="inventory", file_name="resources")
