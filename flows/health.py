"""OakTree's own health from the flows: Prefect hooks and a task publishing to CloudWatch."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from oaktree import selfmonitoring
from oaktree.collection.pipeline import CollectionReport
from oaktree.config import get_settings


def publish_flow_failure(flow: Any, _flow_run: Any, _state: Any) -> None:
    """Prefect on_failure/on_crashed hook: count the run in OakTree's FlowRunsFailed metric."""
    selfmonitoring.record_flow_run(flow.name, failed=True, settings=get_settings())


# Every flow reports its failures the same way: `@flow(..., **FAILURE_HOOKS)`.
FAILURE_HOOKS: dict[str, Any] = {"on_failure": [publish_flow_failure], "on_crashed": [publish_flow_failure]}


# No retries: publishing logs and swallows AWS errors itself (health reporting never fails a run).
@task(cache_policy=NO_CACHE)
def publish_collection_health(report: CollectionReport) -> int:
    """Publish a collection run's lag, datapoints, throttles and failures; return the PutMetricData calls."""
    return selfmonitoring.publish(selfmonitoring.collection_points(report), settings=get_settings())
