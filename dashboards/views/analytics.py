"""Analytics: how the fleet compares with last week, who is busiest, when the load comes, and what the
daily analysis found (anomalies, rightsizing recommendations, capacity forecasts).

One tab runs at a time (the tabs rerun on change), so a page load costs one tab's queries. The
comparisons, rankings and heatmap query the metric history; the other three read what the daily
analytics flow stored. Every table downloads as CSV.
"""

from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards import charts
from dashboards.context import (
    PageContext,
    cached_read,
    current_page_context,
    show_resource_table,
    show_table,
    warehouse,
)
from oaktree.analytics import findings, history
from oaktree.catalogue import CATALOGUE
from oaktree.warehouse import read
from oaktree.warehouse.schema import Resolution

NO_ANALYSIS_MESSAGE = (
    "No analysis yet: the daily analytics flow runs at 03:45 UTC; `oaktree analytics run` runs it now."
)
# (series name, statistic) -> unit, in catalogue order; a metric of several resource types once.
METRICS = {(spec.series_name, statistic): spec.unit for spec in CATALOGUE for statistic in spec.statistics}
DEFAULT_METRIC = ("CPUUtilization", "Average")
RANKING_ORDERS = {"mean": "Mean", "p95": "95th percentile", "peak": "Peak"}
FORECAST_HISTORY = timedelta(hours=48)
# Table columns, in the order shown (the CSV download keeps them).
# Names first and ids (long ARNs) last, so what a reader scans fits the screen.
COMPARISON_COLUMNS = [
    *("name", "current", "previous", "change", "change_pct", "current_peak", "previous_peak"),
    *("resource_type", "region", "resource_id"),
]
RANKING_COLUMNS = [
    *("rank", "name", "mean", "p95", "peak", "percentile", "samples"),
    *("resource_type", "region", "resource_id"),
]
EPISODE_COLUMNS = [
    *("name", "metric_name", "statistic", "start", "end", "points", "direction"),
    *("peak_value", "expected_at_peak", "peak_score", "region", "resource_type", "resource_id"),
]
ANOMALY_POINT_COLUMNS = [
    *("name", "metric_name", "statistic", "ts", "value", "expected", "lower", "upper", "score"),
    *("region", "resource_id"),
]
RECOMMENDATION_COLUMNS = [
    *("name", "monthly_saving", "kind", "action", "monthly_cost", "evidence"),
    *("resource_type", "region", "analysed_until", "resource_id"),
]
FORECAST_COLUMNS = [
    *("name", "metric_name", "statistic", "days_until_threshold", "threshold", "peak_forecast", "peak_at"),
    *("peak_upper", "made_at", "model", "resource_type", "region", "resource_id"),
]


def metric_label(metric: tuple[str, str]) -> str:
    """Return how a metric reads in a selector: `CPUUtilization (Average, %)`."""
    unit = charts.unit_label(METRICS[metric])
    return f"{metric[0]} ({metric[1]}{', ' + unit if unit else ''})"


def choose_metric(key: str) -> tuple[str, str]:
    """Show a metric selector; return the chosen (series name, statistic)."""
    options = list(METRICS)
    return st.selectbox(
        "Metric", options, index=options.index(DEFAULT_METRIC), format_func=metric_label, key=key
    )


def value_column(label: str, metric: tuple[str, str]) -> st.column_config.NumberColumn:
    """Return a number column titled with the metric's unit."""
    unit = charts.unit_label(METRICS[metric])
    return st.column_config.NumberColumn(f"{label} ({unit})" if unit else label, format="%.2f")


def local_times(frame: pd.DataFrame, page: PageContext, *columns: str) -> pd.DataFrame:
    """Return `frame` with its UTC timestamp columns in the user's time zone."""
    shown = frame.copy()
    for column in columns:
        shown[column] = pd.to_datetime(shown[column], utc=True).dt.tz_convert(page.timezone)
    return shown


def show_comparisons(page: PageContext) -> None:
    """This period vs the one before, per resource, for one metric."""
    left, right = st.columns([3, 1])
    with left:
        metric = choose_metric("analytics_compare_metric")
    with right:
        days = st.segmented_control(
            "Period",
            [7, 1],
            format_func=lambda d: "week" if d == 7 else "day",
            default=7,
            key="analytics_compare_period",
        )
    period = timedelta(days=days or 7)
    length = "7 days" if period.days == 7 else "24 hours"
    st.caption(
        f"The {length} up to {page.local(page.end):%Y-%m-%d %H:%M} ({page.timezone.key}, the end of the "
        f"sidebar's range) against the {length} before: mean of the buckets at the resolution a "
        "two-period range calls for."
    )
    compared = cached_read(
        history.period_over_period,
        metric_name=metric[0],
        statistic=metric[1],
        end=page.end,
        period=period,
        regions=page.regions,
        account_ids=page.account_ids,
    )
    if compared.empty:
        st.info(
            f"No {metric_label(metric)} data in the last two periods here: choose another metric, region "
            "or account. Week-long comparisons read the hourly rollup, filled as collection runs."
        )
        return
    both = compared.dropna(subset=["current", "previous"])
    figures = st.columns(3)
    figures[0].metric("Resources compared", len(compared), help="with data in either period")
    if not both.empty:
        now_mean, before_mean = both["current"].mean(), both["previous"].mean()
        figures[1].metric(
            "Fleet mean now",
            f"{now_mean:,.2f}",
            delta=f"{now_mean - before_mean:+,.2f} vs before",
            delta_color="off",
        )
        figures[2].metric("Rising", int((both["change"] > 0).sum()), help="resources whose mean went up")
        moved = both.reindex(both["change"].abs().sort_values(ascending=False).index).head(15)
        figure = go.Figure(
            go.Bar(
                x=moved["change"],
                y=moved["name"],
                orientation="h",
                marker_color=[charts.ORANGE if change > 0 else charts.GRAY for change in moved["change"]],
                hovertemplate="%{y}: %{x:+,.2f}<extra></extra>",
            )
        )
        figure.update_layout(
            title={"text": "Largest changes", "font": {"size": 14}},
            height=max(200, 28 * len(moved) + 60),
            margin={"l": 10, "r": 10, "t": 40, "b": 10},
            plot_bgcolor="white",
        )
        figure.update_xaxes(title_text=f"change ({charts.unit_label(METRICS[metric]) or 'value'})")
        figure.update_yaxes(autorange="reversed")
        st.plotly_chart(figure, key="analytics-compare-chart")
    else:
        st.caption(f"No resource has data in both periods yet: the {length} before hold none.")
    show_resource_table(
        compared[COMPARISON_COLUMNS],
        key="analytics-compare",
        file_name=f"comparison-{metric[0]}-{metric[1]}",
        column_config={
            "current": value_column("this period", metric),
            "previous": value_column("period before", metric),
            "change": value_column("change", metric),
            "change_pct": st.column_config.NumberColumn("change %", format="%+.1f %%"),
            "current_peak": value_column("peak now", metric),
            "previous_peak": value_column("peak before", metric),
        },
    )


def show_rankings(page: PageContext) -> None:
    """Top or bottom N of the fleet by mean, p95 or peak, with each one's fleet percentile."""
    columns = st.columns([3, 2, 1, 1], vertical_alignment="bottom")
    with columns[0]:
        metric = choose_metric("analytics_rank_metric")
    by = columns[1].selectbox(
        "Ranked by", list(RANKING_ORDERS), format_func=RANKING_ORDERS.get, key="analytics_rank_by"
    )
    count = columns[2].number_input("How many", min_value=1, max_value=100, value=10, key="analytics_rank_n")
    lowest = columns[3].toggle("Lowest first", key="analytics_rank_lowest")
    st.caption(
        f"{page.local(page.start):%Y-%m-%d %H:%M} to {page.local(page.end):%Y-%m-%d %H:%M} "
        f"({page.timezone.key}). Percentile: the share of the fleet at or below the resource "
        f"({RANKING_ORDERS[by].lower()}), so 100 is the busiest."
    )
    ranked = cached_read(
        history.fleet_ranking,
        metric_name=metric[0],
        statistic=metric[1],
        start=page.start,
        end=page.end,
        by=by,
        limit=int(count),
        lowest=bool(lowest),
        regions=page.regions,
        account_ids=page.account_ids,
    )
    if ranked.empty:
        st.info(
            f"No {metric_label(metric)} data in this range: choose a longer range in the sidebar, "
            "or another metric."
        )
        return
    show_resource_table(
        ranked[RANKING_COLUMNS],
        key="analytics-rank",
        file_name=f"ranking-{metric[0]}-{metric[1]}-{by}",
        column_config={
            "mean": value_column("mean", metric),
            "p95": value_column("p95", metric),
            "peak": value_column("peak", metric),
            "percentile": st.column_config.ProgressColumn(
                "fleet percentile", min_value=0, max_value=100, format="%.0f"
            ),
        },
    )


def show_heatmap(page: PageContext) -> None:
    """The chosen metric by hour of day and weekday over the range, in the user's time zone when possible."""
    metric = choose_metric("analytics_heat_metric")
    cells = cached_read(
        history.utilisation_heatmap,
        metric_name=metric[0],
        statistic=metric[1],
        start=page.start,
        end=page.end,
        regions=page.regions,
        account_ids=page.account_ids,
    )
    if int(cells["samples"].sum()) == 0:
        st.info(
            f"No hourly {metric_label(metric)} data in this range yet. The heatmap reads the hourly "
            "rollup: choose 7 or 14 days in the sidebar to fill a whole week."
        )
        return
    offset = charts.whole_hour_offset(page.timezone, page.end)
    if offset is None:
        hours_label = "hour of day (UTC)"
        st.caption(
            f"Hours are UTC: {page.timezone.key} is not a whole number of hours from UTC, so its "
            "hours do not map onto these cells."
        )
    else:
        cells = charts.heatmap_in_zone(cells, offset)
        hours_label = f"hour of day ({page.timezone.key})"
        st.caption(
            f"Hours in {page.timezone.key} (UTC{offset:+d} at the end of the range; a daylight-saving "
            "change inside the range shifts the cells before it by an hour). Mean of every resource's "
            "hourly values in each cell; empty cells had no data."
        )
    if page.end - page.start < timedelta(days=7):
        st.caption("The range is shorter than a week: choose 7 or 14 days in the sidebar to fill every row.")
    grid = history.as_grid(cells).astype(float).round(2)
    st.plotly_chart(
        charts.heatmap_figure(
            grid, title=metric_label(metric), unit=METRICS[metric], hours_label=hours_label
        ),
        key="analytics-heatmap",
    )
    table = grid.rename(columns=lambda hour: f"{int(hour):02d}:00").rename_axis("day").reset_index()
    show_table(table, key="analytics-heat", file_name=f"heatmap-{metric[0]}-{metric[1]}")


def show_anomalies(page: PageContext, analysed_until: pd.Timestamp | None) -> None:
    """Stored anomalies in the range, grouped into episodes, each linking to its resource."""
    stored = cached_read(
        findings.stored_anomalies,
        start=page.start,
        end=page.end,
        regions=page.regions,
        account_ids=page.account_ids,
    )
    if stored.empty:
        if analysed_until is None:
            st.info(NO_ANALYSIS_MESSAGE, icon=":material/hourglass_empty:")
        else:
            st.success(
                "No anomaly stored in this range: every judged series stayed inside its seasonal band. "
                "The daily analysis judges the 24 hours before it runs; a longer range shows older ones.",
                icon=":material/check_circle:",
            )
        return
    episodes = findings.stored_episodes(stored)
    figures = st.columns(3)
    figures[0].metric("Anomaly episodes", len(episodes))
    figures[1].metric("Anomalous 5-minute points", len(stored))
    figures[2].metric("Resources affected", stored["resource_id"].nunique())
    st.caption(
        "An episode is a run of 5-minute points outside the series' usual band (hour-of-day and weekday "
        "median ± 5 spreads); strongest first. Times in " + page.timezone.key + "."
    )
    show_resource_table(
        local_times(episodes, page, "start", "end")[EPISODE_COLUMNS],
        key="analytics-episodes",
        file_name="anomaly-episodes",
        column_config={
            "peak_value": st.column_config.NumberColumn("peak value", format="%.4g"),
            "expected_at_peak": st.column_config.NumberColumn("expected", format="%.4g"),
            "peak_score": st.column_config.NumberColumn("score (spreads)", format="%+.1f"),
        },
    )
    with st.expander("Every anomalous point"):
        show_table(
            local_times(stored, page, "ts")[ANOMALY_POINT_COLUMNS],
            key="analytics-anomaly-points",
            file_name="anomalous-points",
        )


def show_recommendations(page: PageContext, analysed_until: pd.Timestamp | None) -> None:
    """The latest rightsizing recommendations, largest saving first, with their evidence."""
    found = cached_read(findings.stored_recommendations, regions=page.regions, account_ids=page.account_ids)
    if found.empty:
        if analysed_until is None:
            st.info(NO_ANALYSIS_MESSAGE, icon=":material/hourglass_empty:")
        else:
            st.success(
                "No recommendation here: no idle or over-provisioned resource over the last analysis's "
                "14 days (each needs data over 80 % of them).",
                icon=":material/check_circle:",
            )
        return
    figures = st.columns(3)
    figures[0].metric("Potential saving", f"${found['monthly_saving'].sum():,.2f} / month")
    figures[1].metric("Recommendations", len(found))
    figures[2].metric(
        "Their cost now",
        f"${found.drop_duplicates('resource_id')['monthly_cost'].sum():,.2f} / month",
    )
    newest = pd.Timestamp(found["analysed_until"].max())
    st.caption(
        f"From the latest analysis, of the history up to {page.local(newest.to_pydatetime()):%Y-%m-%d %H:%M} "
        f"({page.timezone.key}; its evidence says over how many days); the sidebar's time range does not "
        "apply. List prices from the price table, in USD. Click a column to sort."
    )
    shown = found.assign(evidence=found["evidence"].map(findings.evidence_text))
    show_resource_table(
        local_times(shown, page, "analysed_until")[RECOMMENDATION_COLUMNS],
        key="analytics-recommendations",
        file_name="recommendations",
        column_config={
            "monthly_saving": st.column_config.NumberColumn("saving / month", format="$%.2f"),
            "monthly_cost": st.column_config.NumberColumn("cost / month", format="$%.2f"),
            "action": st.column_config.TextColumn("action", width="large"),
            "evidence": st.column_config.TextColumn("evidence", width="large"),
        },
    )


def show_forecasts(page: PageContext, analysed_until: pd.Timestamp | None) -> None:
    """The latest 24-hour forecast of every capacity series, days until its threshold, one series charted."""
    rows = cached_read(findings.latest_forecasts, regions=page.regions, account_ids=page.account_ids)
    if rows.empty:
        if analysed_until is None:
            st.info(NO_ANALYSIS_MESSAGE, icon=":material/hourglass_empty:")
        else:
            st.info(
                "No forecast here: capacity series (CPU, memory, DynamoDB consumed capacity) need 12 hours "
                "of hourly history before the daily analysis forecasts them."
            )
        return
    outlook = findings.forecast_outlook(rows)
    heading = outlook[outlook["days_until_threshold"].notna()]
    figures = st.columns(3)
    figures[0].metric("Series forecast", len(outlook))
    figures[1].metric("Heading for their threshold", len(heading))
    figures[2].metric(
        "Soonest",
        soonest_text(heading["days_until_threshold"]),
    )
    options = list(outlook.index)
    chosen = st.selectbox(
        "Series to chart",
        options,
        format_func=lambda i: (
            f"{outlook.at[i, 'name']} · {outlook.at[i, 'metric_name']} ({outlook.at[i, 'statistic']})"
        ),
        key="analytics_forecast_series",
    )
    series = outlook.loc[chosen]
    show_forecast_chart(page, rows, series)
    st.caption(
        "Next 24 hours from the latest analysis, with a 95 % interval; days until threshold extends the "
        "trend of daily peaks (empty: not rising towards it)."
    )
    show_resource_table(
        local_times(outlook, page, "made_at", "peak_at")[FORECAST_COLUMNS],
        key="analytics-forecasts",
        file_name="forecasts",
        column_config={
            "peak_forecast": st.column_config.NumberColumn("busiest forecast hour", format="%.2f"),
            "peak_upper": st.column_config.NumberColumn("its upper bound", format="%.2f"),
            "days_until_threshold": st.column_config.NumberColumn("days until threshold", format="%.1f"),
        },
    )


def soonest_text(days: pd.Series) -> str:
    """Return how soon the first series reaches its threshold: "none", "reached" or "2.5 days"."""
    if days.empty:
        return "none"
    soonest = float(days.min())
    return "reached" if soonest <= 0 else f"{soonest:,.1f} days"


def show_forecast_chart(page: PageContext, rows: pd.DataFrame, series: pd.Series) -> None:
    """Chart one series' last two days (hourly) with its forecast, interval and threshold."""
    forecast = rows[
        (rows["resource_id"] == series["resource_id"])
        & (rows["metric_name"] == series["metric_name"])
        & (rows["statistic"] == series["statistic"])
    ]
    made_at = pd.Timestamp(series["made_at"]).to_pydatetime()
    past = cached_read(
        read.series,
        resource_ids=(series["resource_id"],),
        metric_name=series["metric_name"],
        statistic=series["statistic"],
        start=made_at - FORECAST_HISTORY,
        end=made_at,
        resolution=Resolution.HOUR,
    )
    unit = METRICS.get((series["metric_name"], series["statistic"]))
    figure = charts.metric_figure(
        past,
        title=f"{series['name']} · {series['metric_name']} ({series['statistic']}), hourly",
        unit=unit,
        timezone=page.timezone,
        forecast=forecast.rename(columns={"forecast": "value"})[["ts", "value", "lower", "upper"]],
        height=340,
    )
    if pd.notna(series["threshold"]):
        figure.add_hline(
            y=float(series["threshold"]),
            line={"color": charts.DARK_ORANGE, "dash": "dot", "width": 1},
            annotation_text=f"threshold {series['threshold']:,.4g}",
        )
    st.plotly_chart(figure, key="analytics-forecast-chart")


page = current_page_context()
st.title("Analytics")
scope = page.region or "all regions"
if page.account_id:
    scope = f"account {page.account_id} · {scope}"
connection = warehouse()
if connection is None:
    st.stop()
newest = cached_read(findings.latest_analysis)
analysed_until = None if newest is None else pd.Timestamp(newest)
last_run = (
    "no analysis stored yet"
    if analysed_until is None
    # Derived from what the runs stored (no table records a run itself), so it names the newest
    # finding, which can be older than the run that produced it.
    else f"newest stored finding {page.local(analysed_until.to_pydatetime()):%Y-%m-%d %H:%M}"
)
st.caption(f"{scope} · {last_run} ({page.timezone.key})")

SECTIONS = {
    "Comparisons": lambda: show_comparisons(page),
    "Rankings": lambda: show_rankings(page),
    "Heatmap": lambda: show_heatmap(page),
    "Anomalies": lambda: show_anomalies(page, analysed_until),
    "Recommendations": lambda: show_recommendations(page, analysed_until),
    "Forecasts": lambda: show_forecasts(page, analysed_until),
}
# Only the open tab runs: switching tabs reruns the page, and the tab is in the URL to share it.
tabs = st.tabs(list(SECTIONS), key="analytics_tab", on_change="rerun", bind="query-params")
for tab, show_section in zip(tabs, SECTIONS.values(), strict=True):
    if tab.open:
        with tab:
            show_section()
