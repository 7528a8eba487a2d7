"""The Analytics page and the detail chart's overlays (AppTest through the router).

The estate's points are rolled up, and the three findings tables get rows with known values
written through the analytics store, as the daily analysis writes them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.selection import ACCOUNT_KEY
from oaktree.analytics import findings, store
from oaktree.auth.roles import Principal
from oaktree.config import Settings
from oaktree.warehouse.lake import open_for_writing
from oaktree.warehouse.rollups import rollup
from tests.dashboards.estate import BATCH, EDGE, REGION_B, TABLE, WEB
from tests.dashboards.test_account_filter import OURS, two_accounts  # noqa: F401 (a fixture)

ANALYTICS = "views/analytics.py"
DETAIL = "views/resource_detail.py"
NO_ANALYSIS = "No analysis yet: the daily analytics flow runs at 03:45 UTC"
# Known recommendations: saving per month, largest first once shown.
SAVINGS = {BATCH.name: 60.74, TABLE.name: 12.0, WEB.name: 7.5}


def _recommendation(
    resource: Any, kind: str, saving: float, cost: float, evidence: dict, end: datetime
) -> dict:
    return {
        "resource_id": resource.resource_id,
        "resource_type": resource.resource_type.value,
        "region": resource.region,
        "name": resource.name,
        "kind": kind,
        "action": f"{kind} {resource.name}",
        "evidence": json.dumps(evidence),
        "monthly_cost": cost,
        "monthly_saving": saving,
        "analysed_until": end,
    }


def _anomalies(resource: Any, first: datetime, scores: list[float]) -> list[dict]:
    return [
        {
            "resource_id": resource.resource_id,
            "resource_type": resource.resource_type.value,
            "region": resource.region,
            "metric_name": "CPUUtilization",
            "statistic": "Average",
            "ts": first + index * timedelta(minutes=5),
            "value": 50.0 + 10 * score,
            "expected": 50.0,
            "lower": 40.0,
            "upper": 60.0,
            "score": score,
        }
        for index, score in enumerate(scores)
    ]


def _forecast(
    resource: Any, metric: str, statistic: str, made_at: datetime, base: float, days: float | None
) -> list[dict]:
    return [
        {
            "resource_id": resource.resource_id,
            "resource_type": resource.resource_type.value,
            "region": resource.region,
            "metric_name": metric,
            "statistic": statistic,
            "made_at": made_at,
            "ts": made_at + timedelta(hours=hour + 1),
            "forecast": base + hour,
            "lower": base + hour - 10,
            "upper": base + hour + 10,
            "model": "ETS(A,Ad,A) period 24",
            "threshold": 80.0 if statistic == "Average" else None,
            "days_until_threshold": days,
        }
        for hour in range(24)
    ]


@pytest.fixture
def analysed(estate: Settings) -> dict[str, datetime]:
    """Roll the estate up and store known anomalies, recommendations and forecasts; return their times."""
    now = datetime.now(UTC)
    made_at = now.replace(minute=0, second=0, microsecond=0)
    anomaly_start = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    anomaly_start -= timedelta(minutes=anomaly_start.minute % 5)
    connection = open_for_writing(estate)
    try:
        rollup(connection, now=now + timedelta(hours=2))
        store.replace_recommendations(
            connection,
            pd.DataFrame(
                [
                    _recommendation(WEB, "ec2_downsize", SAVINGS[WEB.name], 15.0, {"cpu_p95": 8.25}, made_at),
                    _recommendation(BATCH, "ec2_idle", SAVINGS[BATCH.name], 60.74, {"cpu_p95": 2.1}, made_at),
                    _recommendation(
                        TABLE, "dynamodb_switch_to_provisioned", SAVINGS[TABLE.name], 20.0, {}, made_at
                    ),
                ]
            ),
        )
        store.save_anomalies(
            connection,
            pd.DataFrame(
                _anomalies(WEB, anomaly_start, [9.0, 12.5, 7.0])
                + _anomalies(EDGE, anomaly_start - timedelta(hours=1), [-6.0])
            ),
        )
        store.save_forecasts(
            connection,
            pd.DataFrame(
                # An older forecast of the same series: the page shows only the latest.
                _forecast(WEB, "CPUUtilization", "Average", made_at - timedelta(days=1), 10.0, 9.0)
                + _forecast(WEB, "CPUUtilization", "Average", made_at, 60.0, 3.5)
                + _forecast(TABLE, "ConsumedReadCapacityUnits", "Sum", made_at, 600.0, None)
            ),
        )
    finally:
        connection.close()
    return {"made_at": made_at, "anomaly_start": anomaly_start}


def _values(field: list[float] | dict[str, str]) -> list[float]:
    """Return a trace's values from its plotly JSON: a list, or a typed array ({dtype, bdata} in base64)."""
    if isinstance(field, dict):
        return np.frombuffer(base64.b64decode(field["bdata"]), dtype=field["dtype"]).tolist()
    return list(field)


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def _failures(app: AppTest) -> list[str]:
    """Return the errors shown: the router turns a page's exception into one."""
    return [message.value for message in app.error]


def _frame_with(app: AppTest, column: str) -> pd.DataFrame:
    [frame] = [element.value for element in app.dataframe if column in element.value.columns]
    return frame


def _open_tab(open_app: Callable[..., AppTest], principal: Principal, tab: str) -> AppTest:
    app = open_app(principal, ANALYTICS, analytics_tab=tab)
    assert not app.exception, app.exception
    assert not _failures(app), _failures(app)
    assert [title.value for title in app.title] == ["Analytics"]
    return app


def test_recommendations_are_sorted_by_saving_with_their_total_and_readable_evidence(
    analysed: dict[str, datetime], users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = _open_tab(open_app, users["viewer"], "Recommendations")

    assert _metrics(app)["Potential saving"] == "$80.24 / month"
    assert _metrics(app)["Recommendations"] == "3"
    shown = _frame_with(app, "monthly_saving")
    assert list(shown["name"]) == [BATCH.name, TABLE.name, WEB.name]
    assert list(shown["monthly_saving"]) == [60.74, 12.0, 7.5]
    assert shown.loc[shown["name"] == BATCH.name, "evidence"].item() == "cpu p95: 2.1"
    assert shown.loc[shown["name"] == WEB.name, "open"].item() == f"resource_detail?id={WEB.resource_id}"
    assert "Download CSV" in [button.label for button in app.get("download_button")]


def test_the_sidebar_region_filters_the_recommendations(
    analysed: dict[str, datetime], users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = _open_tab(open_app, users["viewer"], "Recommendations")
    app.selectbox(key="oaktree_region").select(REGION_B).run()

    assert not _failures(app), _failures(app)
    assert list(_frame_with(app, "monthly_saving")["name"]) == [TABLE.name]
    assert _metrics(app)["Potential saving"] == "$12.00 / month"


def test_the_account_selector_filters_the_findings_by_the_inventorys_account(
    two_accounts: Settings,  # noqa: F811 (the fixture)
    analysed: dict[str, datetime],
    users: dict[str, Principal],
    open_app: Callable[..., AppTest],
) -> None:
    app = _open_tab(open_app, users["viewer"], "Recommendations")
    app.sidebar.selectbox(key=ACCOUNT_KEY).select(OURS).run()

    assert not _failures(app), _failures(app)
    assert list(_frame_with(app, "monthly_saving")["name"]) == [BATCH.name, WEB.name]
    assert _metrics(app)["Potential saving"] == "$68.24 / month"


def test_anomalies_of_the_range_are_grouped_into_episodes_linking_to_their_resources(
    analysed: dict[str, datetime], users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = _open_tab(open_app, users["viewer"], "Anomalies")

    assert _metrics(app) == {
        "Anomaly episodes": "2",
        "Anomalous 5-minute points": "4",
        "Resources affected": "2",
    }
    episodes = _frame_with(app, "peak_score")
    # Strongest first: web-1's three points are one episode peaking at 12.5 spreads.
    assert list(episodes["name"]) == [WEB.name, EDGE.name]
    assert list(episodes["points"]) == [3, 1]
    assert list(episodes["peak_score"]) == [12.5, -6.0]
    assert list(episodes["direction"]) == ["above", "below"]
    assert episodes["open"].iloc[0] == f"resource_detail?id={WEB.resource_id}"


def test_forecasts_show_the_latest_run_days_until_threshold_and_a_chart_with_its_interval(
    analysed: dict[str, datetime], users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = _open_tab(open_app, users["viewer"], "Forecasts")

    assert _metrics(app)["Series forecast"] == "2"
    assert _metrics(app)["Heading for their threshold"] == "1"
    assert _metrics(app)["Soonest"] == "3.5 days"
    outlook = _frame_with(app, "days_until_threshold")
    # The series nearest its threshold first; the older forecast (peak 33) is not shown.
    assert list(outlook["name"]) == [WEB.name, TABLE.name]
    assert list(outlook["peak_forecast"]) == [83.0, 623.0]
    [chart] = app.get("plotly_chart")
    traces = {trace.get("name"): trace for trace in json.loads(chart.proto.spec)["data"]}
    assert _values(traces["forecast"]["y"]) == [60.0 + hour for hour in range(24)]
    assert "forecast interval" in traces
    shapes = json.loads(chart.proto.spec)["layout"]["shapes"]
    assert [shape["y0"] for shape in shapes] == [80.0]


def test_rankings_and_comparisons_read_the_history(
    analysed: dict[str, datetime], users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    rankings = _open_tab(open_app, users["viewer"], "Rankings")
    ranked = _frame_with(rankings, "percentile")
    # CPU: web-1 runs 80..89, api 40..49, edge-1 20..29.
    assert list(ranked["name"]) == [WEB.name, "api", EDGE.name]
    assert list(ranked["percentile"].round(1)) == [100.0, 66.7, 33.3]

    comparisons = _open_tab(open_app, users["viewer"], "Comparisons")
    compared = _frame_with(comparisons, "change_pct")
    assert set(compared["name"]) == {WEB.name, "api", EDGE.name}
    # Three hours of history: all of it in this week, none the week before.
    assert compared["previous"].isna().all()
    assert compared.loc[compared["name"] == WEB.name, "current"].item() == pytest.approx(84.5, abs=0.5)

    heatmap = _open_tab(open_app, users["viewer"], "Heatmap")
    assert len(heatmap.get("plotly_chart")) == 1
    grid = _frame_with(heatmap, "day")
    assert list(grid.columns) == ["day", *[f"{hour:02d}:00" for hour in range(24)]]


@pytest.mark.parametrize("tab", ["Anomalies", "Recommendations", "Forecasts"])
def test_before_the_first_analysis_each_findings_tab_says_how_to_run_it(
    estate: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest], tab: str
) -> None:
    app = _open_tab(open_app, users["viewer"], tab)
    assert any(message.value.startswith(NO_ANALYSIS) for message in app.info)
    assert not app.dataframe


def test_without_a_warehouse_the_page_says_what_to_do(
    app_settings: Settings, users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = _open_tab(open_app, users["viewer"], "Recommendations")
    assert "No data yet" in app.info[0].value
    assert not app.dataframe


def _detail_chart(app: AppTest, title: str) -> dict[str, Any]:
    for chart in app.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"]["title"]["text"] == title:
            return spec
    raise AssertionError(f"no chart titled {title!r}")


def test_detail_chart_draws_the_anomaly_band_and_the_latest_forecast(
    analysed: dict[str, datetime], users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["viewer"], DETAIL, id=WEB.resource_id)
    assert not app.exception, app.exception
    assert not _failures(app), _failures(app)

    cpu = {trace.get("name"): trace for trace in _detail_chart(app, "CPUUtilization (Average)")["data"]}
    assert {"expected range", "forecast", "forecast interval"} <= set(cpu)
    band_upper, band_lower = _values(cpu["expected (upper)"]["y"]), _values(cpu["expected range"]["y"])
    assert len(band_upper) == len(band_lower) > 0
    assert all(upper > lower for upper, lower in zip(band_upper, band_lower, strict=True))
    # The latest forecast, per-hour values of an Average unchanged on a per-minute chart, and only
    # as far ahead as the 3-hour range looks back (its first two or three hours).
    forecast = _values(cpu["forecast"]["y"])
    assert forecast == [60.0 + hour for hour in range(len(forecast))]
    assert 2 <= len(forecast) <= 3


def test_detail_chart_rescales_a_sums_hourly_forecast_to_its_minutes(
    analysed: dict[str, datetime], users: dict[str, Principal], open_app: Callable[..., AppTest]
) -> None:
    app = open_app(users["viewer"], DETAIL, id=TABLE.resource_id)
    assert not _failures(app), _failures(app)
    reads = {
        trace.get("name"): trace for trace in _detail_chart(app, "ConsumedReadCapacityUnits (Sum)")["data"]
    }
    # 600 read units in the first forecast hour are 10 a minute.
    assert _values(reads["forecast"]["y"])[0] == pytest.approx(10.0)


def test_detail_page_keeps_its_charts_when_the_overlays_fail(
    analysed: dict[str, datetime],
    users: dict[str, Principal],
    open_app: Callable[..., AppTest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> pd.DataFrame:
        raise RuntimeError("the anomalies table is unreadable")

    monkeypatch.setattr(findings, "series_bands", broken)
    app = open_app(users["viewer"], DETAIL, id=WEB.resource_id)
    assert not _failures(app), _failures(app)
    names = {trace.get("name") for trace in _detail_chart(app, "CPUUtilization (Average)")["data"]}
    assert "expected range" not in names
    assert "CPUUtilization (Average)" in names
