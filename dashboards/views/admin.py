"""Administration: users, roles and the audit log (admins only)."""

import streamlit as st

from dashboards.context import require_permission
from oaktree.auth.roles import Permission

require_permission(Permission.MANAGE_USERS)
st.title("Administration")
st.info("This page is being built.")
