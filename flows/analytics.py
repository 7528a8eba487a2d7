"""Prefect flow of the daily analysis: anomalies, rightsizing recommendations and forecasts.

Each task computes one kind of finding from the warehouse and stores it (`oaktree.analytics.
pipeline`); the flow orders them and publishes the headline findings as a markdown artifact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.health import FAILURE_HOOKS
from oaktree.analytics.pipeline import (
    AnalysisSummary,
    analysis_end,
    detect_and_store_anomalies,
    forecast_and_store,
    headline_markdown,
    recommend_and_store,
)
from oaktree.config import get_settings


# Each task reads and writes the lake (and the events table): retried, and safe to redo since
# every write is an upsert on a key or a whole replacement. NO_CACHE: always today's history.
@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def anomalies_task(end: datetime, window_hours: int) -> pd.DataFrame:
    """Find, store and record as events the anomalies of the last `window_hours` hours."""
    return detect_and_store_anomalies(get_settings(), end=end, window=timedelta(hours=window_hours))


@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def recommendations_task(end: datetime, window_days: int) -> pd.DataFrame:
    """Replace the rightsizing recommendations with those of the last `window_days` days."""
    return recommend_and_store(get_settings(), end=end, window=timedelta(days=window_days))


@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def forecasts_task(end: datetime) -> pd.DataFrame:
    """Forecast every capacity series 24 hours ahead and store the forecasts."""
    return forecast_and_store(get_settings(), end=end)


@flow(name="analyse_history", log_prints=False, **FAILURE_HOOKS)
def analyse_history(
    end: datetime | None = None, anomaly_window_hours: int = 24, recommendation_days: int = 14
) -> dict[str, Any]:
    """Find anomalies, rightsizing savings and capacity forecasts in the warehouse's history up to `end`.

    `end` defaults to the start of the current hour.
    """
    end = analysis_end(end)
    summary = AnalysisSummary(
        end=end,
        episodes=anomalies_task(end, anomaly_window_hours),
        recommendations=recommendations_task(end, recommendation_days),
        forecasts=forecasts_task(end),
        anomaly_window=timedelta(hours=anomaly_window_hours),
    )
    create_markdown_artifact(
        key="analytics", markdown=headline_markdown(summary), description="Headline findings of the analysis"
    )
    return summary.to_dict()
