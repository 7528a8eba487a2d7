"""The account, region and time-range selectors in the sidebar, shared by every page.

They default to the user's settings and keep their values across pages (widget state lives in the
browser session). Preset ranges end at the current minute, so repeated runs within a minute ask
the same query and hit the cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from oaktree.auth.preferences import TIME_RANGES, Preferences
from oaktree.config import Settings

ALL_REGIONS = "All regions"
ALL_ACCOUNTS = "All accounts"
CUSTOM = "custom"
PRESET_LABELS = {
    "15m": "Last 15 minutes",
    "1h": "Last hour",
    "3h": "Last 3 hours",
    "6h": "Last 6 hours",
    "12h": "Last 12 hours",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "14d": "Last 14 days",
    CUSTOM: "Custom range",
}
# Custom ranges may reach into the hourly and daily rollups, which are kept far longer than 14 days.
MAX_CUSTOM_DAYS = 400

REGION_KEY = "oaktree_region"
ACCOUNT_KEY = "oaktree_account"
RANGE_KEY = "oaktree_time_range"
CUSTOM_START_KEY = "oaktree_custom_start"
CUSTOM_END_KEY = "oaktree_custom_end"
# Set (by the settings page) to make the selectors take the user's new defaults on the next run.
RESET_TO_DEFAULTS_KEY = "_oaktree_reset_selection"


@dataclasses.dataclass(frozen=True, slots=True)
class Selection:
    """The selected region and account (None = all), UTC time range and display time zone."""

    region: str | None
    start: datetime
    end: datetime
    timezone: ZoneInfo
    account_id: str | None = None


def preset_span(preset: str) -> timedelta:
    """Return the length of a preset such as "15m", "3h" or "7d"."""
    amount, unit = int(preset[:-1]), preset[-1]
    return {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit]


def preset_range(preset: str, *, now: datetime) -> tuple[datetime, datetime]:
    """Return the UTC range of a preset ending at the start of the next minute after `now`."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return end - preset_span(preset), end


def custom_range(
    start_day: date | None, end_day: date | None, *, zone: ZoneInfo
) -> tuple[datetime, datetime] | str:
    """Return the UTC range of whole local days start_day..end_day, or a message saying what is wrong."""
    if start_day is None or end_day is None:
        return "Pick a start and an end day."
    if end_day < start_day:
        return "The end day is before the start day."
    start = datetime.combine(start_day, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    if end - start > timedelta(days=MAX_CUSTOM_DAYS):
        return f"Pick at most {MAX_CUSTOM_DAYS} days."
    return start, end


def user_timezone(preferences: Preferences) -> ZoneInfo:
    """Return the user's time zone (UTC if the stored name is unknown to this host)."""
    try:
        return ZoneInfo(preferences.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def sidebar_selection(
    settings: Settings,
    preferences: Preferences,
    *,
    accounts: Sequence[str] = (),
    now: datetime | None = None,
) -> Selection:
    """Show the account, region and time-range selectors in the sidebar and return what they select.

    `accounts` are the AWS accounts the inventory holds; the account selector appears only when
    there are several (the default deployment watches the credentials' own account only).
    """
    now = now or datetime.now(UTC)
    zone = user_timezone(preferences)
    regions = [ALL_REGIONS, *settings.regions]
    default_region = preferences.default_region if preferences.default_region in settings.regions else None
    presets = [*TIME_RANGES, CUSTOM]
    default_range = preferences.default_time_range if preferences.default_time_range in TIME_RANGES else "3h"
    if st.session_state.pop(RESET_TO_DEFAULTS_KEY, False):
        for key in (REGION_KEY, RANGE_KEY):
            st.session_state.pop(key, None)
    # Defaults apply until the user picks something in this browser session.
    st.session_state.setdefault(REGION_KEY, default_region or ALL_REGIONS)
    st.session_state.setdefault(RANGE_KEY, default_range)
    account = ALL_ACCOUNTS
    with st.sidebar:
        if len(accounts) > 1:
            account = st.selectbox("AWS account", [ALL_ACCOUNTS, *accounts], key=ACCOUNT_KEY)
        region = st.selectbox("Region", regions, key=REGION_KEY)
        preset = st.selectbox("Time range", presets, key=RANGE_KEY, format_func=PRESET_LABELS.__getitem__)
        if preset == CUSTOM:
            today = now.astimezone(zone).date()
            st.session_state.setdefault(CUSTOM_START_KEY, today - timedelta(days=1))
            st.session_state.setdefault(CUSTOM_END_KEY, today)
            start_day = st.date_input(f"From ({zone.key})", key=CUSTOM_START_KEY, max_value=today)
            end_day = st.date_input(f"To ({zone.key}, inclusive)", key=CUSTOM_END_KEY, max_value=today)
            chosen = custom_range(start_day, end_day, zone=zone)
            if isinstance(chosen, str):
                st.warning(chosen)
                start, end = preset_range(default_range, now=now)
            else:
                start, end = chosen
        else:
            start, end = preset_range(preset, now=now)
        st.caption(f"Times shown in {zone.key}")
    return Selection(
        region=None if region == ALL_REGIONS else region,
        start=start,
        end=end,
        timezone=zone,
        account_id=None if account == ALL_ACCOUNTS else account,
    )
