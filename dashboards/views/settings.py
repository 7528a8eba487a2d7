"""Settings (every user): default region, time range, time zone and theme; password change."""

from zoneinfo import available_timezones

import streamlit as st

from dashboards.context import SESSION_ENDED_KEY, auth, current_page_context, db_session, show_error
from dashboards.selection import ALL_REGIONS, PRESET_LABELS, RESET_TO_DEFAULTS_KEY
from oaktree.auth import change_password, delete_setting, set_preferences
from oaktree.auth.errors import AuthenticationFailed, AuthError, InvalidInput
from oaktree.auth.preferences import TIME_RANGES, PreferenceKey, Theme

FIELD_LABELS = {
    "default_region": "Default region",
    "default_time_range": "Default time range",
    "timezone": "Time zone",
    "theme": "Theme",
    "new_password": "New password",
    "password": "New password",
}

FLASH_KEY = "_oaktree_settings_flash"

page = current_page_context()
st.title("Settings")
if flash := st.session_state.pop(FLASH_KEY, None):
    st.success(flash)
st.caption(f"Signed in as {page.principal.username} ({', '.join(page.principal.roles)})")

st.subheader("Preferences")
preferences = page.preferences
regions = [ALL_REGIONS, *page.settings.regions]
zones = sorted(available_timezones())
themes = [theme.value for theme in Theme]
with st.form("preferences"):
    region = st.selectbox(
        "Default region",
        regions,
        index=regions.index(preferences.default_region) if preferences.default_region in regions else 0,
        key="pref-region",
    )
    time_range = st.selectbox(
        "Default time range",
        list(TIME_RANGES),
        index=list(TIME_RANGES).index(preferences.default_time_range),
        format_func=PRESET_LABELS.__getitem__,
        key="pref-range",
    )
    zone = st.selectbox(
        "Time zone",
        zones,
        index=zones.index(preferences.timezone) if preferences.timezone in zones else zones.index("UTC"),
        key="pref-timezone",
    )
    theme = st.selectbox("Theme", themes, index=themes.index(preferences.theme.value), key="pref-theme")
    saved = st.form_submit_button("Save preferences")
if saved:
    try:
        with db_session() as session:
            set_preferences(
                session=session,
                ctx=auth(),
                principal=page.principal,
                # The "all regions" choice is stored as no default region.
                default_region=None if region == ALL_REGIONS else region,
                default_time_range=time_range,
                timezone=zone,
                theme=theme,
            )
            if region == ALL_REGIONS and preferences.default_region is not None:
                delete_setting(
                    session=session,
                    ctx=auth(),
                    principal=page.principal,
                    key=PreferenceKey.DEFAULT_REGION.value,
                )
    except InvalidInput as exc:
        for field, problem in exc.errors.items():
            st.error(f"{FIELD_LABELS.get(field, field)}: {problem}")
    except AuthError as exc:
        show_error(str(exc))
    else:
        # The sidebar takes the new defaults now, not only in the next browser session.
        st.session_state[RESET_TO_DEFAULTS_KEY] = True
        st.session_state[FLASH_KEY] = "Preferences saved."
        st.rerun()

st.subheader("Change password")
with st.form("password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", key="pw-current")
    new = st.text_input("New password", type="password", key="pw-new")
    repeated = st.text_input("New password again", type="password", key="pw-repeat")
    change = st.form_submit_button("Change password")
if change:
    if not current or not new:
        st.error("Enter your current password and a new one.")
    elif new != repeated:
        st.error("New password again: the two new passwords differ.")
    else:
        try:
            with db_session() as session:
                change_password(
                    session=session,
                    ctx=auth(),
                    principal=page.principal,
                    current_password=current,
                    new_password=new,
                )
        except AuthenticationFailed:
            st.error("Current password: it is wrong.")
        except InvalidInput as exc:
            for field, problem in exc.errors.items():
                st.error(f"{FIELD_LABELS.get(field, field)}: {problem}")
        except AuthError as exc:
            show_error(str(exc))
        else:
            # Every session of the account ended with the change, this one included.
            st.session_state[SESSION_ENDED_KEY] = "Your password was changed: sign in with the new one."
            st.success("Password changed. Sign in again with the new password.")
