"""Reset password."""

import streamlit as st

st.title("Reset password")
st.info("This page is being built.")
