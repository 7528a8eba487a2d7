"""Pipeline health."""

import streamlit as st

from dashboards.context import current_page_context

current_page_context()
st.title("Pipeline health")
st.info("This page is being built.")
