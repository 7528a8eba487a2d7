"""The one module pages use for shared state: who is signed in, what they selected, and data access.

Contract (stable: other pages are written against it):

- `current_page_context() -> PageContext`: the verified `Principal` (roles read from the database
  on this run), the `Settings`, the user's `Preferences`, the selected region and AWS account
  (`None` = all), the selected UTC `start`/`end` and the user's `timezone`. The router
  (`dashboards/app.py`) verifies the session and builds the context before it runs a page; a page
  run without one (never routed by the router) stops with a message.
- `require_permission(permission) -> PageContext`: call at the top of every page that needs more
  than viewing; it shows "not allowed" and stops the page unless the principal holds it. The
  router already hides pages a role may not use; this is the second line, and every service call
  checks the role a third time.
- `warehouse() -> DuckDB connection | None`: the one cached read-only warehouse connection of the
  process (`st.cache_resource`); `oaktree.warehouse.read` functions take it and open their own
  cursor per query. `None` (after an empty-state message) when no warehouse exists yet.
- `cached_read(function, **arguments)`: call `function(warehouse(), **arguments)` with results
  cached for `QUERY_TTL_SECONDS`; use for every warehouse query a page shows.
- `db_session()`: a SQLAlchemy session on the application database; commits on success.
- `auth()`: the process's `AuthContext` (token signer, lockout policy, clock).
- `show_table(df, *, key, file_name)`: a dataframe with a CSV download button.
- `resource_detail_link(resource_id, label=None)`: a link to the detail page of one resource;
  `open_resource_detail(resource_id)` switches to it (e.g. after a chart click); `resource_url`
  is its relative URL; `show_resource_table(df, key=..., file_name=...)` shows resources with a
  link per row (selecting a row opens it) and a CSV download. The detail page reads the id with
  `selected_resource_id()`.
- `show_error(message)`: the way to report a failure (a message, never a traceback).
- Page files: `PAGES` maps a short name to the page's script path (for `st.switch_page`).

AppTest seam: AppTest cannot send cookies, so a test puts a `Principal` of an existing user in
`st.session_state[TEST_PRINCIPAL_KEY]`. The router still reads that user from the database
(active, current roles), exactly as it does for a cookie's token; a browser can never set a
`Principal` object in session state (widgets carry only plain values).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import streamlit as st

from oaktree.auth.context import AuthContext, auth_context
from oaktree.auth.preferences import Preferences
from oaktree.auth.roles import Permission, Principal
from oaktree.config import Settings, get_settings

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    from sqlalchemy.orm import Session

VIEWS = Path(__file__).resolve().parent / "views"

# Page scripts by short name; `st.switch_page(PAGES["resource"])` and the router use the same paths.
PAGES: dict[str, Path] = {
    "login": VIEWS / "login.py",
    "register": VIEWS / "register.py",
    "reset_password": VIEWS / "reset_password.py",
    "overview": VIEWS / "overview.py",
    "resources": VIEWS / "resources.py",
    "resource": VIEWS / "resource_detail.py",
    "map": VIEWS / "map.py",
    "alerts": VIEWS / "alerts.py",
    "analytics": VIEWS / "analytics.py",
    "pipeline": VIEWS / "pipeline.py",
    "settings": VIEWS / "settings.py",
    "admin": VIEWS / "admin.py",
}

# Query results stay fresh enough for a page refreshed every minute, and a page's reruns (every
# widget change) do not repeat the same query.
QUERY_TTL_SECONDS = 30

TEST_PRINCIPAL_KEY = "_oaktree_test_principal"
_PAGE_CONTEXT_KEY = "_oaktree_page_context"
# Why the last session ended (expired, revoked, disabled), for the login page to say.
SESSION_ENDED_KEY = "_oaktree_session_ended"
NO_DATA_MESSAGE = (
    "No data yet: the warehouse is created by the first discovery and collection, which run "
    "within a minute of the pipeline starting (`oaktree discover`, `oaktree collect --once`)."
)


@dataclasses.dataclass(frozen=True, slots=True)
class PageContext:
    """What every page knows about the current run: who, which settings, and what is selected."""

    principal: Principal
    settings: Settings
    preferences: Preferences
    region: str | None
    start: datetime
    end: datetime
    timezone: ZoneInfo
    account_id: str | None = None

    @property
    def regions(self) -> list[str] | None:
        """Return the selected region as a filter list (None = every region)."""
        return None if self.region is None else [self.region]

    @property
    def account_ids(self) -> list[str] | None:
        """Return the selected AWS account as a filter list (None = every account)."""
        return None if self.account_id is None else [self.account_id]

    def local(self, moment: datetime) -> datetime:
        """Return a UTC moment in the user's time zone."""
        return moment.astimezone(self.timezone)


def set_page_context(context: PageContext | None) -> None:
    """Store (or clear) the context of this run; only the router calls this."""
    if context is None:
        st.session_state.pop(_PAGE_CONTEXT_KEY, None)
    else:
        st.session_state[_PAGE_CONTEXT_KEY] = context


def current_page_context() -> PageContext:
    """Return the context the router built for this run; stop the page if there is none."""
    context = st.session_state.get(_PAGE_CONTEXT_KEY)
    if not isinstance(context, PageContext):
        st.warning("Sign in to see this page.")
        st.stop()
    return context


def require_permission(permission: Permission) -> PageContext:
    """Return the page context if the principal holds the permission; otherwise say so and stop."""
    context = current_page_context()
    if not context.principal.can(permission):
        st.error("Your role does not allow this page. Ask an administrator if you need it.")
        st.stop()
    return context


def settings() -> Settings:
    """Return the process's settings (read once per process by `get_settings`)."""
    return get_settings()


@st.cache_resource(show_spinner=False)
def _auth_context(database_url: str, data_dir: str) -> AuthContext:
    del database_url, data_dir  # the cache key only: tests run apps on several databases
    return auth_context(settings())


def auth() -> AuthContext:
    """Return the process's auth context (token signer, lockout policy, reset settings, clock)."""
    current = settings()
    return _auth_context(current.sqlalchemy_url, str(current.data_dir))


@contextmanager
def db_session() -> Iterator[Session]:
    """Yield a session on the application database; commit on success, roll back on error."""
    from oaktree import db

    with db.session_scope(settings=settings()) as session:
        yield session


@st.cache_resource(show_spinner=False)
def _warehouse_connection(location_key: str) -> duckdb.DuckDBPyConnection:
    del location_key  # cache key only
    from oaktree.warehouse.lake import connect

    return connect(read_only=True, settings=settings())


def _warehouse_key() -> str:
    from oaktree.warehouse.lake import lake_location

    return lake_location(settings()).shown


def warehouse(*, quiet: bool = False) -> duckdb.DuckDBPyConnection | None:
    """Return the cached read-only warehouse connection, or None (after an empty state) without one.

    `quiet` skips the empty-state message when the caller shows its own.
    """
    from oaktree.warehouse.errors import WarehouseNotFound

    try:
        return _warehouse_connection(_warehouse_key())
    except WarehouseNotFound:
        if not quiet:
            st.info(NO_DATA_MESSAGE, icon=":material/hourglass_empty:")
        return None


@st.cache_data(ttl=QUERY_TTL_SECONDS, show_spinner=False, max_entries=512)
def _cached_call(
    function_name: str,
    location_key: str,
    arguments: tuple[tuple[str, Any], ...],
    _function: Callable[..., Any],
) -> Any:
    connection = _warehouse_connection(location_key)
    return _function(connection, **dict(arguments))


def cached_read(function: Callable[..., Any], **arguments: Any) -> Any:
    """Return `function(warehouse_connection, **arguments)`, cached for QUERY_TTL_SECONDS.

    Arguments must be hashable by Streamlit (plain values, tuples, lists, datetimes). Raises
    WarehouseNotFound when there is no warehouse: call `warehouse()` first to show the empty state.
    """
    name = f"{function.__module__}.{function.__qualname__}"
    key = tuple(sorted(arguments.items()))
    return _cached_call(name, _warehouse_key(), key, function)


def show_table(df: pd.DataFrame, *, key: str, file_name: str, **dataframe_options: Any) -> None:
    """Show a table with a button that downloads exactly its rows as CSV."""
    st.dataframe(df, key=f"{key}-table", hide_index=True, **dataframe_options)
    csv = df.to_csv(index=False).encode("utf-8")
    st.download_button(
        "Download CSV",
        data=csv,
        file_name=file_name if file_name.endswith(".csv") else f"{file_name}.csv",
        mime="text/csv",
        key=f"{key}-csv",
        icon=":material/download:",
    )


# The detail page's URL (Streamlit names a page's URL after its file); links in tables use it.
RESOURCE_DETAIL_URL = "resource_detail"


def resource_url(resource_id: str) -> str:
    """Return the relative URL of a resource's detail page."""
    from urllib.parse import urlencode

    return f"{RESOURCE_DETAIL_URL}?{urlencode({'id': resource_id})}"


def show_resource_table(
    df: pd.DataFrame,
    *,
    key: str,
    file_name: str,
    id_column: str = "resource_id",
    column_config: dict[str, Any] | None = None,
) -> None:
    """Show resources with a link to each one's detail page; selecting a row opens it too. CSV included."""
    shown = df.copy()
    if not shown.empty:
        shown.insert(0, "open", [resource_url(str(value)) for value in shown[id_column]])
    config = {
        "open": st.column_config.LinkColumn("open", display_text="details", width="small"),
        **(column_config or {}),
    }
    event = st.dataframe(
        shown,
        key=f"{key}-table",
        hide_index=True,
        column_config=config,
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        open_resource_detail(str(shown.iloc[rows[0]][id_column]))
    st.download_button(
        "Download CSV",
        data=df.to_csv(index=False).encode("utf-8"),
        file_name=file_name if file_name.endswith(".csv") else f"{file_name}.csv",
        mime="text/csv",
        key=f"{key}-csv",
        icon=":material/download:",
    )


def resource_detail_link(resource_id: str, label: str | None = None) -> None:
    """Show a link to the detail page of one resource."""
    st.page_link(
        str(PAGES["resource"]),
        label=label or resource_id,
        query_params={"id": resource_id},
        icon=":material/open_in_new:",
    )


def open_resource_detail(resource_id: str) -> None:
    """Switch to the detail page of one resource (ends this run)."""
    st.switch_page(str(PAGES["resource"]), query_params={"id": resource_id})


def selected_resource_id() -> str | None:
    """Return the resource id the detail page was opened for (`?id=...`), if any."""
    value = st.query_params.get("id")
    return value.strip() or None if isinstance(value, str) else None


def show_error(message: str) -> None:
    """Report a failure as a message (never a traceback)."""
    st.error(message, icon=":material/error:")
