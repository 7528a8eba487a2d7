"""The dashboard's ASGI server: the Streamlit router script plus the login and logout routes.

`oaktree dashboard` runs `streamlit run dashboards/server.py`; Streamlit finds `app` below and
serves `app.py` (the router) beside the routes of `session_routes.py`. The database is migrated
before the first request.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from dashboards.session_routes import build_session_routes
from oaktree.auth.context import AuthContext, auth_context
from oaktree.config import get_settings

ROUTER_SCRIPT = Path(__file__).resolve().parent / "app.py"


@functools.cache
def _auth_context_for(database_url: str, data_dir: str) -> AuthContext:
    del database_url, data_dir  # the cache key only
    return auth_context(get_settings())


def server_auth_context() -> AuthContext:
    """Return the auth context of the current settings, built once."""
    settings = get_settings()
    return _auth_context_for(settings.sqlalchemy_url, str(settings.data_dir))


@asynccontextmanager
async def _migrate_on_start(_app: Any) -> AsyncIterator[None]:
    from oaktree import db

    db.upgrade(get_settings().sqlalchemy_url)
    yield


app = st.App(
    ROUTER_SCRIPT,
    routes=build_session_routes(settings_source=get_settings, auth_source=server_auth_context),
    lifespan=_migrate_on_start,
)
