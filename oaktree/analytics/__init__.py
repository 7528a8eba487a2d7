"""Historical analysis over the warehouse: every function takes a DuckDB connection and returns a DataFrame.

- `history`: series at the best resolution for a range, week-over-week comparison, fleet rankings
  and percentiles, hour-of-day x day-of-week heatmaps.
- `anomalies`: seasonal baselines (median and MAD per hour of day and day of week), scores,
  bands and anomaly episodes; `synthetic` generates labelled series to measure them.
- `rightsizing`: idle and over-provisioned resources with their evidence and monthly saving,
  priced from `prices.yaml`.
- `forecasts`: 24-hour forecasts with intervals (statsmodels) and days until a capacity threshold.
- `store`: the `anomalies`, `recommendations` and `forecasts` warehouse tables' rows and events.

In a notebook: `from oaktree.warehouse import connect; from oaktree.analytics import history;
history.period_over_period(connect(), metric_name="CPUUtilization", statistic="Average", end=now)`.
Nothing here imports Prefect or Streamlit: the analytics flow and the dashboard call these functions.
"""
