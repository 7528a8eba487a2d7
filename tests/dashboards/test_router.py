"""The router: pages per role, the signed-out gate, and every page rendering for every role."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from oaktree.auth.roles import Principal


def titles(app: AppTest) -> list[str]:
    return [element.value for element in app.title]


def test_signed_out_sees_only_the_login_page(
    users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(None)
    assert not app.exception
    assert titles(app) == ["Sign in to OakTree"]


def test_admin_lands_on_the_overview(users: dict[str, Principal], open_app: Callable[..., AppTest]) -> None:
    app = open_app(users["admin"])
    assert not app.exception, app.exception
    assert titles(app)[0] == "Overview"
