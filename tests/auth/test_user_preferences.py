"""Per-user settings and the dashboard's typed preferences."""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from models import UserSetting
from oaktree.auth import (
    AuthContext,
    InvalidInput,
    Preferences,
    Principal,
    Theme,
    UserNotFound,
    delete_setting,
    get_preferences,
    get_settings_map,
    set_preferences,
    set_setting,
)
from tests.auth.concurrency import run_together
from tests.auth.conftest import make_user

SETTING_RACE_ROUNDS = 5


def test_defaults_when_nothing_is_set(session: Session, viewer: Principal) -> None:
    assert get_preferences(session=session, principal=viewer) == Preferences(
        default_region=None, default_time_range="3h", timezone="UTC", theme=Theme.SYSTEM
    )


def test_viewers_set_their_own_preferences(session: Session, ctx: AuthContext, viewer: Principal) -> None:
    saved = set_preferences(
        session=session,
        ctx=ctx,
        principal=viewer,
        default_region="ap-southeast-1",
        default_time_range="24h",
        timezone="Asia/Singapore",
        theme="dark",
    )
    assert saved == Preferences("ap-southeast-1", "24h", "Asia/Singapore", Theme.DARK)
    assert get_settings_map(session=session, principal=viewer) == {
        "default_region": "ap-southeast-1",
        "default_time_range": "24h",
        "timezone": "Asia/Singapore",
        "theme": "dark",
    }
    set_preferences(session=session, ctx=ctx, principal=viewer, theme=Theme.LIGHT)
    assert get_preferences(session=session, principal=viewer).theme == Theme.LIGHT
    delete_setting(session=session, ctx=ctx, principal=viewer, key="theme")
    assert get_preferences(session=session, principal=viewer).theme == Theme.SYSTEM


def test_invalid_values_are_refused_together(sqlite_session: Session, ctx: AuthContext) -> None:
    person = make_user(sqlite_session, ctx, "picky")
    with pytest.raises(InvalidInput) as caught:
        set_preferences(
            session=sqlite_session,
            ctx=ctx,
            principal=person,
            default_region="mars-north-1",
            default_time_range="2y",
            timezone="Mars/Olympus",
            theme="neon",
        )
    assert caught.value.errors == {
        "default_region": "unknown AWS region 'mars-north-1'",
        "default_time_range": "must be one of 15m, 1h, 3h, 6h, 12h, 24h, 7d, 14d",
        "timezone": "unknown time zone 'Mars/Olympus' (use an IANA name such as Asia/Singapore)",
        "theme": "must be one of light, dark, system",
    }
    assert get_settings_map(session=sqlite_session, principal=person) == {}
    with pytest.raises(InvalidInput, match="theme: must be one of"):
        set_setting(session=sqlite_session, ctx=ctx, principal=person, key="theme", value="neon")
    with pytest.raises(InvalidInput, match="key: must be 1 to 100 characters"):
        set_setting(session=sqlite_session, ctx=ctx, principal=person, key="k" * 101, value="v")


def test_free_form_keys_are_stored_verbatim(sqlite_session: Session, ctx: AuthContext) -> None:
    person = make_user(sqlite_session, ctx, "freeform")
    set_setting(
        session=sqlite_session, ctx=ctx, principal=person, key="pinned_resources", value='["i-1", "i-2"]'
    )
    set_setting(session=sqlite_session, ctx=ctx, principal=person, key="pinned_resources", value='["i-3"]')
    set_setting(session=sqlite_session, ctx=ctx, principal=person, key="empty", value=None)
    assert get_settings_map(session=sqlite_session, principal=person) == {
        "pinned_resources": '["i-3"]',
        "empty": None,
    }


def test_admins_manage_other_users_settings(
    session: Session, ctx: AuthContext, admin: Principal, viewer: Principal
) -> None:
    set_preferences(
        session=session, ctx=ctx, principal=admin, user_id=viewer.user_id, timezone="Europe/Paris"
    )
    assert get_preferences(session=session, principal=viewer).timezone == "Europe/Paris"
    assert get_preferences(session=session, principal=admin).timezone == "UTC"


def test_an_invalid_stored_value_falls_back_to_the_default(sqlite_session: Session, ctx: AuthContext) -> None:

    person = make_user(sqlite_session, ctx, "legacy")
    set_setting(session=sqlite_session, ctx=ctx, principal=person, key="theme", value="dark")
    sqlite_session.execute(update(UserSetting).values(value="sepia"))  # written by an older version
    sqlite_session.commit()
    assert get_preferences(session=sqlite_session, principal=person).theme == Theme.SYSTEM


def test_settings_of_a_user_that_does_not_exist_are_a_clear_error(
    session: Session, ctx: AuthContext, admin: Principal
) -> None:
    missing = 999_999
    for change in (
        partial(set_setting, key="theme", value="dark"),
        partial(set_setting, key="free-form", value="anything"),
        partial(set_preferences, theme="dark"),
    ):
        with pytest.raises(UserNotFound, match=f"no user with id {missing}"):
            change(session=session, ctx=ctx, principal=admin, user_id=missing)


def _set_note(ctx: AuthContext, principal: Principal, value: str, racing: Session) -> None:
    set_setting(session=racing, ctx=ctx, principal=principal, key="note", value=value)


def test_one_new_setting_written_twice_at_once_keeps_one_value(
    db_url: str, session: Session, ctx: AuthContext, viewer: Principal
) -> None:
    for round_number in range(SETTING_RACE_ROUNDS):
        delete_setting(session=session, ctx=ctx, principal=viewer, key="note")
        values = [f"{round_number}-a", f"{round_number}-b"]
        outcomes = run_together(db_url, [partial(_set_note, ctx, viewer, value) for value in values])
        assert all(outcome is None or isinstance(outcome, InvalidInput) for outcome in outcomes), outcomes
        assert get_settings_map(session=session, principal=viewer)["note"] in values
