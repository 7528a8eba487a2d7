"""The infrastructure map page (AppTest through the router): health, filters, the chart's nodes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from streamlit.testing.v1 import AppTest

from oaktree.auth.roles import Principal
from oaktree.config import Settings
from tests.dashboards.alerting import fire_web_cpu_rule
from tests.dashboards.estate import BATCH, ESTATE, WEB

MAP = "views/map.py"


def chart_spec(app: AppTest) -> dict[str, Any]:
    charts = app.get("echarts_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_map_colours_resources_by_alarm_and_state_and_lists_what_needs_attention(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    fire_web_cpu_rule(estate)
    app = open_app(users["viewer"], MAP)

    assert not app.exception, app.exception
    assert [t.value for t in app.title] == ["Infrastructure map"]
    assert metrics(app) == {"Resources": "6", "In ALARM": "1", "Stopped": "1", "OK": "4"}
    series = chart_spec(app)["series"][0]
    categories = [c["name"] for c in series["categories"]]
    nodes = {node["id"]: node for node in series["data"]}
    assert categories[nodes[WEB.resource_id]["category"]] == "ALARM"
    assert categories[nodes[BATCH.resource_id]["category"]] == "Stopped"
    assert "in ALARM: web-cpu" in nodes[WEB.resource_id]["value"]
    # Every resource of the estate is a node, under its region, VPC and subnet.
    assert {r.resource_id for r in ESTATE} <= set(nodes)
    links = {(link["source"], link["target"]) for link in series["links"]}
    assert ("subnet:us-east-1:vpc-a:subnet-a", WEB.resource_id) in links
    assert ("vpc:us-east-1:vpc-a", "subnet:us-east-1:vpc-a:subnet-a") in links
    assert series["selectedMode"] == "single"
    # The table of what needs attention, worst first.
    attention = app.dataframe[0].value
    assert list(attention["name"]) == ["web-1", "batch-1"]
    assert list(attention["rules in ALARM"]) == ["web-cpu", ""]


def test_map_filters_by_health_and_search(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    fire_web_cpu_rule(estate)
    app = open_app(users["operator"], MAP)
    app.multiselect(key="map_health").select("ALARM").run()
    assert not app.exception, app.exception
    nodes = {node["id"] for node in chart_spec(app)["series"][0]["data"]}
    assert nodes == {
        "region:us-east-1",
        "vpc:us-east-1:vpc-a",
        "subnet:us-east-1:vpc-a:subnet-a",
        WEB.resource_id,
    }
    assert metrics(app)["Resources"] == "1"

    app.multiselect(key="map_health").unselect("ALARM").run()
    app.text_input(key="map_search").input("no-such-resource").run()
    assert not app.get("echarts_chart")
    assert "Nothing matches these filters" in app.info[0].value


def test_map_without_a_warehouse_says_what_to_do(
    app_settings: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["admin"], MAP)
    assert not app.exception, app.exception
    assert "No data yet" in app.info[0].value
    assert not app.get("echarts_chart")
