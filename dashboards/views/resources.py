"""Resources."""

import streamlit as st

from dashboards.context import current_page_context

current_page_context()
st.title("Resources")
st.info("This page is being built.")
