"""The dashboard's router: verifies the session on every run and routes only the pages the role may use.

Before login only login, registration and password reset are routable; a page a role may not use
is never passed to `st.navigation`, so typing its URL shows "Page not found" and the default page.
The session token comes from the HttpOnly cookie set by `POST /session/login`
(`session_routes.py`) and is verified against the database on every run: an expired, revoked or
tampered token, or a disabled account, sends the user back to login. The database is migrated
once per process before anything else.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import context, selection
from dashboards.context import PAGES, PageContext
from dashboards.session_routes import LOGOUT_PATH, SESSION_COOKIE
from oaktree.auth.preferences import get_preferences
from oaktree.auth.roles import Permission, Principal

LOGO = Path(__file__).resolve().parent / "static" / "oaktree-logo.svg"
ICON = Path(__file__).resolve().parent / "static" / "oaktree-icon.svg"


@st.cache_resource(show_spinner=False)
def _migrated(database_url: str) -> str | None:
    """Migrate the application database to the latest revision once per process; return the head."""
    from oaktree import db

    return db.upgrade(database_url)["after"]


def _prepare_database() -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from oaktree.db import MigrationRefused

    try:
        _migrated(context.settings().sqlalchemy_url)
    except (SQLAlchemyError, MigrationRefused) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        context.show_error(f"The application database cannot be used ({reason}). Check OAKTREE_DATABASE_URL.")
        st.stop()


def _verified_principal() -> Principal | None:
    """Return the principal of this browser session, checked against the database on this run."""
    from models import User
    from oaktree.auth.errors import InvalidToken
    from oaktree.auth.sessions import authenticate
    from oaktree.auth.users import principal_for

    seeded = st.session_state.get(context.TEST_PRINCIPAL_KEY)
    if isinstance(seeded, Principal) and seeded.user_id is not None:
        with context.db_session() as session:
            user = session.get(User, seeded.user_id)
            if user is None or not user.is_active:
                return None
            return principal_for(user)
    token = st.context.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        with context.db_session() as session:
            return authenticate(session=session, ctx=context.auth(), token=token)
    except InvalidToken as exc:
        st.session_state.setdefault(
            context.SESSION_ENDED_KEY, f"Your session has ended ({exc}). Sign in again."
        )
        return None


def _page(name: str, title: str, icon: str, *, default: bool = False, hidden: bool = False) -> st.Page:
    return st.Page(
        PAGES[name],
        title=title,
        icon=icon,
        default=default,
        visibility="hidden" if hidden else "visible",
    )


def public_pages() -> list[st.Page]:
    """Return the pages routable before login."""
    return [
        _page("login", "Sign in", ":material/login:", default=True),
        _page("register", "Create account", ":material/person_add:"),
        _page("reset_password", "Reset password", ":material/lock_reset:"),
    ]


def pages_for(principal: Principal) -> dict[str, list[st.Page]]:
    """Return the navigation sections and pages this principal may use."""
    monitoring = [
        _page("overview", "Overview", ":material/dashboard:", default=True),
        _page("resources", "Resources", ":material/dns:"),
        _page("resource", "Resource detail", ":material/monitor_heart:", hidden=True),
        _page("map", "Infrastructure map", ":material/account_tree:"),
        _page("alerts", "Alerts", ":material/notifications:"),
        _page("analytics", "Analytics", ":material/insights:"),
        _page("pipeline", "Pipeline health", ":material/conveyor_belt:"),
    ]
    account = [_page("settings", "Settings", ":material/settings:")]
    sections = {"Monitoring": monitoring if principal.can(Permission.VIEW) else [], "Account": account}
    if principal.can(Permission.MANAGE_USERS) or principal.can(Permission.VIEW_AUDIT_LOG):
        sections["Administration"] = [_page("admin", "Administration", ":material/admin_panel_settings:")]
    return {section: pages for section, pages in sections.items() if pages}


def _known_accounts() -> list[str]:
    """Return the AWS accounts in the inventory (none before the first discovery)."""
    from oaktree.warehouse import read

    if context.warehouse(quiet=True) is None:
        return []
    return context.cached_read(read.account_ids)


def _sidebar_account(principal: Principal) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{principal.username}** ({', '.join(principal.roles) or 'no role'})")
        # A plain form: the browser posts it with the HttpOnly cookie, which page scripts cannot read.
        st.html(
            f'<form method="post" action="{LOGOUT_PATH}" class="oaktree-logout">'
            '<button type="submit" data-testid="oaktree-logout">Sign out</button></form>'
        )


def main() -> None:
    """Route this run: verify the session, then run the selected page among those allowed."""
    st.set_page_config(page_title="OakTree", page_icon=str(ICON), layout="wide")
    st.logo(str(LOGO), icon_image=str(ICON), size="large")
    _prepare_database()
    principal = _verified_principal()
    if principal is None:
        context.set_page_context(None)
        st.navigation(public_pages(), position="hidden").run()
        return
    st.session_state.pop(context.SESSION_ENDED_KEY, None)
    with context.db_session() as session:
        preferences = get_preferences(session=session, principal=principal)
    navigation = st.navigation(pages_for(principal))
    chosen = selection.sidebar_selection(context.settings(), preferences, accounts=_known_accounts())
    context.set_page_context(
        PageContext(
            principal=principal,
            settings=context.settings(),
            preferences=preferences,
            region=chosen.region,
            start=chosen.start,
            end=chosen.end,
            timezone=chosen.timezone,
            account_id=chosen.account_id,
        )
    )
    _sidebar_account(principal)
    try:
        navigation.run()
    except Exception as exc:
        # Every page reports its own expected failures; anything else is still a message here.
        context.show_error(
            f"This page failed ({type(exc).__name__}: {exc}). Reload, or report it if it persists."
        )
        from oaktree.logs import get_logger

        get_logger("dashboards").exception("dashboard.page_failed", page=navigation.title)


main()
