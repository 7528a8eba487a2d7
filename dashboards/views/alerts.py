"""Alerts (placeholder until the alerts pages land)."""

import streamlit as st

from dashboards.context import current_page_context

current_page_context()
st.title("Alerts")
st.info("Alert management is on its way; `oaktree alerts list` shows the rules and their states.")
