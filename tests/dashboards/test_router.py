"""The router: pages per role, the signed-out gate, and every page rendering for every role."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from oaktree.auth.roles import Principal


def titles(app: AppTest) -> list[str]:
    """Return the page titles shown."""
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


def test_overview_shows_counts_top_cpu_and_freshness(
    estate: object, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["viewer"])
    assert not app.exception, app.exception
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["EC2 instances"] == "3"
    assert metrics["ECS services"] == "1"
    assert metrics["DynamoDB tables"] == "1"
    assert metrics["Resources in ALARM"] == "0"
    [top] = [frame.value for frame in app.dataframe if "peak" in frame.value.columns]
    assert list(top["resource_id"])[:3] == [
        "i-0web",
        "arn:aws:ecs:us-east-1:123456789012:service/main/api",
        "i-0edge",
    ]


def test_resources_filters_and_detail_render(
    estate: object, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["viewer"], "views/resources.py", type="ec2_instance")
    assert not app.exception, app.exception
    [table] = [frame.value for frame in app.dataframe if "tags" in frame.value.columns]
    assert sorted(table["resource_id"]) == ["i-0batch", "i-0edge", "i-0web"]
    app.text_input(key="resources-search").input("web").run()
    [table] = [frame.value for frame in app.dataframe if "tags" in frame.value.columns]
    assert list(table["resource_id"]) == ["i-0web"]

    detail = open_app(users["viewer"], "views/resource_detail.py", id="i-0web")
    assert not detail.exception, detail.exception
    assert detail.title[0].value == "web-1"
    assert not [header for header in detail.subheader if header.value == "Actions"]
    charts = detail.get("plotly_chart")
    assert len(charts) >= 3  # CPU average, network in, events timeline
