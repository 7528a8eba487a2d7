"""The DuckDB warehouse: Parquet partitions written atomically, views in `warehouse.duckdb`.

- `layout`: where every file lives, partitions per resolution and region.
- `files`: atomic Parquet replacement and the per-partition locks.
- `points`: `write_points`, merging collected 1-minute points into hourly partitions.
- `rollups`: `rollup`, 5-minute / 1-hour / 1-day buckets kept up to date incrementally.
- `retention`: `apply_retention`, deleting partitions older than each resolution keeps.
- `views`: `ensure_warehouse`, the analyst-facing DuckDB file of documented views.
- `query`: read helpers (`connect_readonly`, `points_count`, `metric_series`) for the dashboard.

Nothing is imported here: `oaktree.discovery.store` imports `layout`, and `views` imports
discovery's schemas, so an eager import would be circular.
"""
