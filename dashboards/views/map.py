"""Infrastructure map (placeholder until the map page lands)."""

import streamlit as st

from dashboards.context import current_page_context

current_page_context()
st.title("Infrastructure map")
st.info("The infrastructure map is on its way: region, VPC, subnet, instance, ECS and DynamoDB.")
