"""Every page for every role, role gating, and the account pages' validation messages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from dashboards.context import PAGES
from models import AuditEntry, User
from oaktree import db
from oaktree.auth.roles import Principal
from oaktree.config import Settings

SIGNED_IN_PAGES = ["overview", "resources", "resource", "map", "alerts", "analytics", "pipeline", "settings"]


def page_path(name: str) -> str:
    """Return a page's path relative to the router, as AppTest.switch_page takes it."""
    return f"views/{PAGES[name].name}"


def texts(app: AppTest) -> str:
    """Return every message, markdown and caption shown, as one string."""
    parts = [
        e.value for e in [*app.error, *app.warning, *app.info, *app.success, *app.markdown, *app.caption]
    ]
    return "\n".join(str(part) for part in parts)


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
def test_every_page_renders_for_every_role(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest], role: str, name: str
) -> None:
    query = {"id": "i-0web"} if name == "resource" else {}
    app = open_app(users[role], page_path(name), **query)
    assert not app.exception, app.exception
    assert app.title, "every page has a title"
    assert "not allowed" not in texts(app).lower()


def test_admin_page_renders_users_and_audit_log(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["admin"], page_path("admin"))
    assert not app.exception, app.exception
    assert app.title[0].value == "Administration"
    frames = [frame.value for frame in app.dataframe]
    [accounts] = [frame for frame in frames if "email" in frame.columns]
    assert sorted(accounts["username"]) == ["ops", "root-admin", "watcher"]
    [audit] = [frame for frame in frames if "actor" in frame.columns]
    assert set(audit["action"]) == {"user.created"}


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_admin_page_is_not_routed_for_other_roles(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest], role: str
) -> None:
    app = open_app(users[role], page_path("admin"))
    assert not app.exception, app.exception
    # Not in the navigation: Streamlit runs the default page instead.
    assert app.title[0].value == "Overview"
    assert "Administration" not in [title.value for title in app.title]


def test_signed_out_cannot_reach_signed_in_pages(
    users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    for name in [*SIGNED_IN_PAGES, "admin"]:
        app = open_app(None, page_path(name))
        assert not app.exception, app.exception
        assert app.title[0].value == "Sign in to OakTree", name


def test_disabled_account_is_signed_out_on_the_next_run(
    app_settings: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    with db.session_scope(settings=app_settings) as session:
        session.scalars(select(User).where(User.username == "watcher")).one().is_active = False
    app = open_app(users["viewer"])
    assert app.title[0].value == "Sign in to OakTree"


def test_viewer_gets_no_action_controls_and_operator_does(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    viewer = open_app(users["viewer"], page_path("resource"), id="i-0web")
    assert "Actions" not in [header.value for header in viewer.subheader]
    assert not [button for button in viewer.button if button.label in {"Start", "Stop", "Reboot"}]
    operator = open_app(users["operator"], page_path("resource"), id="i-0web")
    assert "Actions" in [header.value for header in operator.subheader]


def test_admin_changes_a_role_and_disables_an_account(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["admin"], page_path("admin"))
    app.selectbox(key="admin-user").select("watcher").run()
    app.selectbox(key="admin-role").select("operator").run()
    app.button(key="admin-save-role").click().run()
    assert not app.exception, app.exception
    assert "watcher is now operator." in [message.value for message in app.success]
    app.button(key="admin-toggle-active").click().run()
    with db.session_scope(settings=estate) as session:
        watcher = session.scalars(select(User).where(User.username == "watcher")).one()
        assert watcher.role_names == ("operator",)
        assert watcher.is_active is False
        actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.target == "watcher")))
    assert {"user.role_changed", "user.disabled"} <= actions or len(actions) >= 3


def test_admin_create_user_shows_field_messages(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["admin"], page_path("admin"))
    app.text_input(key="create-username").input("ops")
    app.text_input(key="create-email").input("not-an-email")
    app.text_input(key="create-password").input("short")
    app.button[[b.label for b in app.button].index("Create user")].click().run()
    errors = [message.value for message in app.error]
    assert any(message.startswith("Email") for message in errors), errors
    assert any(message.startswith("Password") for message in errors), errors


def test_registration_shows_a_message_under_each_bad_field(
    app_settings: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(None, page_path("register"))
    app.text_input(key="register-username").input("watcher")
    app.text_input(key="register-email").input("nope")
    app.text_input(key="register-password").input("abc")
    app.text_input(key="register-repeat").input("abc")
    app.button[0].click().run()
    assert not app.exception, app.exception
    errors = [message.value for message in app.error]
    assert any(message.startswith("Email") for message in errors), errors
    assert any(message.startswith("Password must be at least") for message in errors), errors


def test_registration_creates_a_viewer(
    app_settings: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(None, page_path("register"))
    app.text_input(key="register-username").input("newcomer")
    app.text_input(key="register-email").input("newcomer@example.com")
    app.text_input(key="register-password").input("a-long-enough-passphrase-9")
    app.text_input(key="register-repeat").input("a-long-enough-passphrase-9")
    app.button[0].click().run()
    assert [message.value for message in app.success] == [
        "Account newcomer created (viewer). You can sign in now."
    ]


def test_password_reset_request_answers_the_same_for_unknown_addresses(
    app_settings: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    answers = []
    for address in ("watcher@example.com", "nobody@example.com"):
        app = open_app(None, page_path("reset_password"))
        app.text_input(key="reset-email").input(address)
        app.button[0].click().run()
        assert not app.exception, app.exception
        answers.append([message.value for message in app.success])
    assert answers[0] == answers[1]
    assert answers[0][0].startswith("If an account uses this address")


def test_bad_reset_token_says_so(
    app_settings: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(None, page_path("reset_password"), token="forged")
    app.text_input(key="reset-new").input("a-long-enough-passphrase-9")
    app.text_input(key="reset-repeat").input("a-long-enough-passphrase-9")
    app.button[0].click().run()
    assert "cannot be used" in app.error[0].value


def test_settings_saves_preferences_and_rejects_a_wrong_current_password(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["viewer"], page_path("settings"))
    app.selectbox(key="pref-region").select("ap-southeast-1")
    app.selectbox(key="pref-range").select("24h")
    app.selectbox(key="pref-timezone").select("Asia/Singapore")
    app.button[[b.label for b in app.button].index("Save preferences")].click().run()
    assert not app.exception, app.exception
    assert "Preferences saved." in [message.value for message in app.success]

    again = open_app(users["viewer"])
    assert again.selectbox(key="oaktree_region").value == "ap-southeast-1"
    assert again.selectbox(key="oaktree_time_range").value == "24h"
    assert "Times shown in Asia/Singapore" in [caption.value for caption in again.caption]

    app.text_input(key="pw-current").input("wrong-password-here")
    app.text_input(key="pw-new").input("a-long-enough-passphrase-9")
    app.text_input(key="pw-repeat").input("a-long-enough-passphrase-9")
    app.button[[b.label for b in app.button].index("Change password")].click().run()
    assert "Current password: it is wrong." in [message.value for message in app.error]
