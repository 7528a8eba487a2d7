"""Administration (admins): accounts with their roles, creating accounts, enabling and disabling,
role changes, and the audit log with filters. Every change goes through the auth services, which
check the admin role again and write the audit entry."""

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboards.context import (
    auth,
    db_session,
    require_permission,
    show_error,
    show_table,
)
from oaktree.auth import list_audit_entries, list_users, register_user, set_active, set_role
from oaktree.auth.errors import AuthError, InvalidInput
from oaktree.auth.roles import Permission, Role

FLASH_KEY = "_oaktree_admin_flash"
ROLES = [role.value for role in Role]


def flash(message: str) -> None:
    """Keep a success message for the rerun that follows a change."""
    st.session_state[FLASH_KEY] = message


page = require_permission(Permission.MANAGE_USERS)
st.title("Administration")
if message := st.session_state.pop(FLASH_KEY, None):
    st.success(message)

users_tab, create_tab, audit_tab = st.tabs(["Users", "Create user", "Audit log"])

with users_tab:
    with db_session() as session:
        accounts = list_users(session=session, principal=page.principal)
    frame = pd.DataFrame(accounts)
    if frame.empty:
        st.info("No accounts yet.")
    else:
        frame["roles"] = frame["roles"].map(", ".join)
        for column in ("created_at", "last_login_at"):
            frame[column] = frame[column].map(lambda moment: page.local(moment) if pd.notna(moment) else None)
        show_table(
            frame[["username", "email", "roles", "is_active", "created_at", "last_login_at"]],
            key="users",
            file_name="users",
        )
        st.markdown("#### Change an account")
        names = [account["username"] for account in accounts]
        chosen = st.selectbox("Account", names, key="admin-user")
        account = next(item for item in accounts if item["username"] == chosen)
        current_role = account["roles"][0] if account["roles"] else Role.VIEWER.value
        role_column, active_column = st.columns(2)
        with role_column:
            new_role = st.selectbox("Role", ROLES, index=ROLES.index(current_role), key="admin-role")
            if st.button("Save role", key="admin-save-role", disabled=new_role == current_role):
                try:
                    with db_session() as session:
                        set_role(
                            session=session,
                            ctx=auth(),
                            principal=page.principal,
                            username=chosen,
                            role=new_role,
                        )
                except AuthError as exc:
                    show_error(str(exc))
                else:
                    flash(f"{chosen} is now {new_role}.")
                    st.rerun()
        with active_column:
            label = "Disable account" if account["is_active"] else "Enable account"
            st.caption("Disabling ends the account's sessions at their next page load.")
            if st.button(label, key="admin-toggle-active"):
                try:
                    with db_session() as session:
                        set_active(
                            session=session,
                            ctx=auth(),
                            principal=page.principal,
                            username=chosen,
                            active=not account["is_active"],
                        )
                except AuthError as exc:
                    show_error(str(exc))
                else:
                    flash(f"{chosen} is now {'disabled' if account['is_active'] else 'enabled'}.")
                    st.rerun()

with create_tab:
    with st.form("admin-create-user", clear_on_submit=False):
        username = st.text_input("Username", key="create-username")
        email = st.text_input("Email", key="create-email")
        password = st.text_input("Initial password", type="password", key="create-password")
        role = st.selectbox("Role", ROLES, index=ROLES.index(Role.VIEWER.value), key="create-role")
        submitted = st.form_submit_button("Create user")
    if submitted:
        try:
            with db_session() as session:
                register_user(
                    session=session,
                    ctx=auth(),
                    username=username,
                    email=email,
                    password=password,
                    role=role,
                    principal=page.principal,
                )
        except InvalidInput as exc:
            for field, problem in exc.errors.items():
                st.error(f"{field.replace('_', ' ').capitalize()}: {problem}")
        except AuthError as exc:
            show_error(str(exc))
        else:
            flash(f"Created {username} ({role}).")
            st.rerun()

with audit_tab:
    if not page.principal.can(Permission.VIEW_AUDIT_LOG):
        st.info("Your role does not include the audit log.")
    else:
        actor_column, action_column, target_column, days_column = st.columns(4)
        actor = actor_column.text_input("Actor (exact name)", key="audit-actor")
        action = action_column.selectbox(
            "Action",
            ["any", "resource.", "user.", "alert.", "alert_channel.", "alert_silence.", "setting."],
            key="audit-action",
            format_func=lambda value: value if value == "any" else f"{value}*",
        )
        target = target_column.text_input("Target contains", key="audit-target")
        today = datetime.now(page.timezone).date()
        days = days_column.date_input(
            f"Days ({page.timezone.key})", value=(today - timedelta(days=7), today), key="audit-days"
        )
        since = until = None
        if isinstance(days, tuple) and len(days) == 2:
            since = datetime.combine(days[0], time.min, tzinfo=page.timezone).astimezone(UTC)
            until = datetime.combine(days[1] + timedelta(days=1), time.min, tzinfo=page.timezone).astimezone(
                UTC
            )
        with db_session() as session:
            entries = list_audit_entries(
                session=session,
                principal=page.principal,
                limit=1000,
                actor=actor.strip() or None,
                action_prefix=None if action == "any" else action,
                target_contains=target.strip() or None,
                since=since,
                until=until,
            )
        if not entries:
            st.info("No audit entries match these filters.")
        else:
            log = pd.DataFrame(entries)
            log["at"] = log["at"].map(
                lambda moment: page.local(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
            )
            log["details"] = log["details"].map(
                lambda details: ", ".join(f"{k}={v}" for k, v in (details or {}).items())
            )
            st.caption(f"{len(log)} entries (newest first, at most 1,000)")
            show_table(
                log[["at", "actor", "action", "target", "details"]], key="audit", file_name="audit-log"
            )
