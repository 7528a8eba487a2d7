"""The AWS account selector: shown only with several accounts, and it narrows every page's reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.selection import ACCOUNT_KEY, ALL_ACCOUNTS
from oaktree.auth.roles import Principal
from oaktree.config import Settings
from oaktree.discovery.store import save_inventory
from tests.dashboards.conftest import BATCH, EDGE, ESTATE, WEB
from tests.dashboards.test_map_page import chart_spec

OURS, THEIRS = "111111111111", "222222222222"


@pytest.fixture
def two_accounts(estate: Settings) -> Settings:
    """Re-save the estate with web-1 and batch-1 in one account and the rest in another."""
    mine = {WEB.resource_id, BATCH.resource_id}
    save_inventory(
        estate,
        [dataclasses.replace(r, account_id=OURS if r.resource_id in mine else THEIRS) for r in ESTATE],
    )
    return estate


def resource_ids_shown(app: AppTest) -> set[str]:
    table = app.dataframe[0].value
    return set(table["resource_id"])


def test_no_account_selector_with_one_account(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["viewer"], "views/resources.py")

    assert not app.exception
    assert "AWS account" not in [box.label for box in app.sidebar.selectbox]


def test_choosing_an_account_narrows_the_resources_and_the_map(
    two_accounts: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["viewer"], "views/resources.py")
    selector = app.sidebar.selectbox(key=ACCOUNT_KEY)
    assert selector.options == [ALL_ACCOUNTS, OURS, THEIRS]
    assert resource_ids_shown(app) == {r.resource_id for r in ESTATE}

    selector.select(OURS).run()

    assert not app.exception
    assert resource_ids_shown(app) == {WEB.resource_id, BATCH.resource_id}
    assert set(app.dataframe[0].value["account"]) == {OURS}

    app.switch_page("views/map.py").run()
    assert not app.exception
    nodes = {node["id"] for node in chart_spec(app)["series"][0]["data"]}
    assert {WEB.resource_id, BATCH.resource_id} <= nodes
    assert EDGE.resource_id not in nodes


def test_overview_counts_only_the_chosen_account(
    two_accounts: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["viewer"])
    app.sidebar.selectbox(key=ACCOUNT_KEY).select(THEIRS).run()

    assert not app.exception
    instances = next(metric for metric in app.metric if metric.label == "EC2 instances")
    assert instances.value == "1"  # edge-1 only; web-1 and batch-1 are in the other account
