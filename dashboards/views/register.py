"""Create account."""

import streamlit as st

st.title("Create account")
st.info("This page is being built.")
