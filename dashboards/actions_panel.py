"""The detail page's action controls: shown only to roles that may act, each action confirmed first.

The controls are a convenience; `oaktree.actions.perform_action` checks the role again on the
server for every call, records the audit entry and the event, and returns AWS's error as is.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from botocore.exceptions import BotoCoreError, ClientError

from dashboards.context import PageContext, db_session, show_error
from oaktree.actions import (
    EC2_ALLOWED_FROM,
    MAX_DESIRED_COUNT,
    Action,
    ActionFailed,
    ActionRefused,
    available_actions,
    live_state,
    perform_action,
)
from oaktree.auth.errors import PermissionDenied
from oaktree.auth.roles import Permission
from oaktree.inventory import Resource

PENDING_KEY = "_oaktree_pending_action"
LAST_RESULT_KEY = "_oaktree_last_action"
LABELS = {Action.START: "Start", Action.STOP: "Stop", Action.REBOOT: "Reboot"}


@st.cache_data(ttl=10, show_spinner=False)
def _cached_live_state(resource_id: str, region: str, _resource: Resource) -> str | None:
    del resource_id, region  # the cache key
    return live_state(_resource)


def _live_state(resource: Resource) -> tuple[str | None, str | None]:
    """Return (state, problem): the instance's state from AWS now, or why it could not be read."""
    try:
        return _cached_live_state(resource.resource_id, resource.region, resource), None
    except ActionFailed as exc:
        return None, str(exc)
    except (ClientError, BotoCoreError) as exc:
        return None, f"AWS did not answer ({type(exc).__name__})"


def _run(page: PageContext, resource: Resource, action: Action, desired_count: int | None) -> None:
    try:
        with db_session() as session:
            result = perform_action(
                session=session,
                settings=page.settings,
                principal=page.principal,
                resource=resource,
                action=action,
                desired_count=desired_count,
                now=datetime.now(UTC),
            )
    except PermissionDenied as exc:
        st.session_state[LAST_RESULT_KEY] = ("error", f"Not allowed: {exc}")
    except ActionRefused as exc:
        st.session_state[LAST_RESULT_KEY] = ("warning", str(exc))
    except ActionFailed as exc:
        st.session_state[LAST_RESULT_KEY] = ("error", f"AWS refused the action: {exc}")
    else:
        st.session_state[LAST_RESULT_KEY] = ("success", result.message)
        # The timeline and live state should show the action at once.
        st.cache_data.clear()


def show_actions(page: PageContext, resource: Resource) -> None:
    """Show the resource's action controls if the user may act; nothing at all otherwise."""
    actions = available_actions(resource)
    if not actions or not page.principal.can(Permission.ACT_ON_RESOURCES):
        return
    st.subheader("Actions")
    outcome = st.session_state.pop(LAST_RESULT_KEY, None)
    if outcome is not None:
        kind, message = outcome
        {"success": st.success, "warning": st.warning}.get(kind, show_error)(message)

    pending = st.session_state.get(PENDING_KEY)
    if pending is not None and pending[0] != resource.resource_id:
        pending = None
        st.session_state.pop(PENDING_KEY, None)

    if Action.SET_DESIRED_COUNT in actions:
        count = st.number_input(
            "Desired count",
            min_value=0,
            max_value=MAX_DESIRED_COUNT,
            step=1,
            value=int(resource.desired_count or 0),
            key=f"desired-{resource.resource_id}",
        )
        if st.button("Apply desired count", key="ask-desired", disabled=pending is not None):
            st.session_state[PENDING_KEY] = (resource.resource_id, Action.SET_DESIRED_COUNT.value, int(count))
            st.rerun()
    else:
        state, problem = _live_state(resource)
        if problem:
            st.warning(f"Cannot read the instance's state from AWS: {problem}")
        else:
            st.caption(f"State in AWS now: **{state}** (the inventory says {resource.state})")
        columns = st.columns(len(actions) + 3)
        for column, action in zip(columns, actions, strict=False):
            allowed = state in EC2_ALLOWED_FROM[action] if state else True
            if column.button(
                LABELS[action], key=f"ask-{action.value}", disabled=pending is not None or not allowed
            ):
                st.session_state[PENDING_KEY] = (resource.resource_id, action.value, None)
                st.rerun()

    if pending is not None:
        _, action_value, desired = pending
        action = Action(action_value)
        what = (
            f"set the desired count of **{resource.name}** to **{desired}**"
            if action is Action.SET_DESIRED_COUNT
            else f"**{LABELS[action].lower()}** **{resource.name}** (`{resource.resource_id}`)"
        )
        st.warning(
            f"Really {what} in {resource.region}? This acts on the real resource.", icon=":material/warning:"
        )
        confirm, cancel, _ = st.columns([1, 1, 4])
        if confirm.button("Confirm", key="confirm-action", type="primary"):
            st.session_state.pop(PENDING_KEY, None)
            _run(page, resource, action, desired)
            st.rerun()
        if cancel.button("Cancel", key="cancel-action"):
            st.session_state.pop(PENDING_KEY, None)
            st.rerun()
