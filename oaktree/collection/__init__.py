"""Metric collection: batched GetMetricData from the inventory into DynamoDB and the warehouse.

- `planning`: series from the inventory, windows from watermarks, requests packed 500 queries full.
- `ratelimit`: one token bucket per (region, API), shared by every thread of the process.
- `api_calls`: rate-limited, counted, throttle-retried AWS calls.
- `cloudwatch`: one GetMetricData batch, NextToken pages followed, PartialData fetched again.
- `pipeline`: `collect_region` (the unit a flow fans out over) and `collect_once` (every region).
"""
