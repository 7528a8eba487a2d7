"""Analytics (placeholder until the analytics page lands)."""

import streamlit as st

from dashboards.context import current_page_context

current_page_context()
st.title("Analytics")
st.info("Analytics (anomalies, forecasts, percentiles) is on its way.")
