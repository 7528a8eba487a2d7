"""Resource detail."""

import streamlit as st

from dashboards.context import current_page_context

current_page_context()
st.title("Resource detail")
st.info("This page is being built.")
