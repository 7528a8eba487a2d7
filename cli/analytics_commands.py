"""`oaktree analytics ...`: anomalies, rightsizing recommendations and forecasts from the warehouse.

`run` is the daily analysis (what the `analytics` deployment runs): it stores its findings and
prints the headline. The other commands compute one kind of finding and print it, writing
nothing. Heavy modules (pandas, DuckDB, statsmodels) are imported inside the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import JsonOption, current_settings, emit, one_line_errors

if TYPE_CHECKING:
    import pandas as pd

HoursOption = Annotated[
    int, typer.Option("--hours", min=1, help="Hours of history to look for anomalies in.")
]
DaysOption = Annotated[int, typer.Option("--days", min=1, help="Days of history the findings rest on.")]


def _table_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Return rows as aligned text columns (or a line saying there are none)."""
    if not rows:
        return "(none)"

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.2f}"
        return "-" if value is None else str(value)

    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))]
    lines.extend(
        "  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)) for line in cells
    )
    return "\n".join(lines)


def _emit_frame(
    frame: pd.DataFrame, *, key: str, columns: list[str], as_json: bool, extra: dict[str, Any]
) -> None:
    from oaktree.analytics.pipeline import frame_records

    rows = frame_records(frame)
    emit(
        {**extra, key: rows},
        as_json=as_json,
        human=lambda summary: _table_text(summary[key], columns),
    )


def register(app: typer.Typer) -> None:
    """Add the `analytics` command group to the app."""
    analytics_app = typer.Typer(
        help="History analysis: anomalies, rightsizing recommendations, capacity forecasts.",
        no_args_is_help=True,
    )
    app.add_typer(analytics_app, name="analytics")

    @analytics_app.command("run")
    @one_line_errors
    def run(as_json: JsonOption = False) -> None:
        """Run the daily analysis now: store anomalies, recommendations and forecasts; print the headline."""
        from oaktree.analytics import pipeline

        settings = current_settings()
        end = pipeline.analysis_end()
        summary = pipeline.AnalysisSummary(
            end=end,
            episodes=pipeline.detect_and_store_anomalies(settings, end=end),
            recommendations=pipeline.recommend_and_store(settings, end=end),
            forecasts=pipeline.forecast_and_store(settings, end=end),
        )
        if as_json:
            emit(summary.to_dict(), as_json=True)
        else:
            typer.echo(pipeline.headline_markdown(summary))

    @analytics_app.command("anomalies")
    @one_line_errors
    def anomalies_command(hours: HoursOption = 24, as_json: JsonOption = False) -> None:
        """List the anomaly episodes of the last hours (points outside their seasonal band)."""
        from datetime import timedelta

        from oaktree.analytics import anomalies, pipeline
        from oaktree.warehouse import connect

        end = pipeline.analysis_end()
        with connect(settings=current_settings()) as connection:
            found = anomalies.find_anomalies(connection, start=end - timedelta(hours=hours), end=end)
        episodes = anomalies.anomaly_episodes(found)
        columns = ["resource_id", "metric_name", "start", "end", "points", "peak_value", "expected_at_peak"]
        _emit_frame(
            episodes,
            key="episodes",
            columns=[*columns, "peak_score"],
            as_json=as_json,
            extra={"analysed_until": end, "anomalous_points": len(found)},
        )

    @analytics_app.command("recommendations")
    @one_line_errors
    def recommendations_command(days: DaysOption = 14, as_json: JsonOption = False) -> None:
        """List idle and over-provisioned resources, largest estimated monthly saving first."""
        from datetime import timedelta

        from oaktree.analytics import pipeline, rightsizing
        from oaktree.warehouse import connect

        end = pipeline.analysis_end()
        with connect(settings=current_settings()) as connection:
            found = rightsizing.recommendations(connection, end=end, window=timedelta(days=days))
        _emit_frame(
            found,
            key="recommendations",
            columns=["name", "region", "kind", "monthly_cost", "monthly_saving", "action"],
            as_json=as_json,
            extra={"analysed_until": end, "prices_as_of": rightsizing.load_prices().as_of},
        )

    def forecasts_command(as_json: JsonOption = False) -> None:
        """Forecast capacity metrics 24 hours ahead: the busiest forecast hour, days until the threshold."""
        from oaktree.analytics import forecasts, pipeline
        from oaktree.warehouse import connect

        end = pipeline.analysis_end()
        with connect(settings=current_settings()) as connection:
            found = forecasts.forecast_fleet(connection, end=end)
        if found.empty:
            per_series = found
        else:
            keys = ["resource_id", "metric_name", "statistic"]
            peaks = found.loc[found.groupby(keys)["forecast"].idxmax()]
            per_series = peaks.rename(columns={"ts": "peak_at", "forecast": "peak_forecast"})[
                [*keys, "peak_at", "peak_forecast", "upper", "threshold", "days_until_threshold", "model"]
            ].sort_values(["days_until_threshold", "resource_id"], na_position="last")
        _emit_frame(
            per_series,
            key="forecasts",
            columns=[
                "resource_id",
                "metric_name",
                "peak_at",
                "peak_forecast",
                "upper",
                "days_until_threshold",
            ],
            as_json=as_json,
            extra={"made_at": end},
        )

    # `forecast` (singular) as well: both read naturally after `oaktree analytics`.
    analytics_app.command("forecasts")(one_line_errors(forecasts_command))
    analytics_app.command("forecast", hidden=True)(one_line_errors(forecasts_command))
