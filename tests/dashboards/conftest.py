"""Dashboard fixtures: a migrated PostgreSQL database with an admin, an operator and a viewer, a lake
with a small estate whose points end now (`tests/dashboards/estate.py`), and AppTest runs signed in
through the router's seam."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards.context import TEST_PRINCIPAL_KEY
from oaktree import db
from oaktree.auth.roles import Principal
from oaktree.config import Settings, load_settings
from tests.dashboards.estate import REGION_A, REGION_B, create_users, store_estate

ROUTER = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


@pytest.fixture(autouse=True)
def fresh_streamlit_caches() -> Iterator[None]:
    """Forget cached connections and query results: they outlive one AppTest in this process."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app_settings(monkeypatch: pytest.MonkeyPatch, pg_url: str) -> Iterator[Settings]:
    """Return settings on a migrated PostgreSQL database and two regions."""
    monkeypatch.setenv("OAKTREE_DATABASE_URL", pg_url)
    monkeypatch.setenv("OAKTREE_REGIONS", f"{REGION_A},{REGION_B}")
    from oaktree import config

    config.get_settings.cache_clear()
    db.upgrade(pg_url)
    yield load_settings()
    db.dispose_engines()


@pytest.fixture
def users(app_settings: Settings) -> dict[str, Principal]:
    """Return principals of an admin, an operator and a viewer with accounts."""
    return create_users(app_settings)


@pytest.fixture
def estate(app_settings: Settings) -> Settings:
    """Store the estate's inventory, CPU and network points for the last hours, and a few events."""
    store_estate(app_settings)
    return app_settings


@pytest.fixture
def open_app() -> Callable[..., AppTest]:
    """Return a function running the router as `principal` (None: signed out) on a page."""

    def run(principal: Principal | None, page: str | None = None, **query: str) -> AppTest:
        app = AppTest.from_file(ROUTER, default_timeout=60)
        if principal is not None:
            app.session_state[TEST_PRINCIPAL_KEY] = principal
        for key, value in query.items():
            app.query_params[key] = value
        if page is not None:
            app.switch_page(page)
        return app.run()

    return run
