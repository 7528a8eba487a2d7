"""Flow hooks publish failed runs to CloudWatch; OakTree's own log lines inside a run carry its ids."""

from __future__ import annotations

import logging

import pytest
from prefect import flow, task
from prefect.context import get_run_context

from flows import prefect_run_ids
from flows.health import FAILURE_HOOKS
from oaktree import aws as aws_clients
from oaktree.config import Settings
from oaktree.logs import json_formatter


@flow(name="always_fails", **FAILURE_HOOKS)
def always_fails() -> None:
    raise RuntimeError("inventory unreadable")


@task
def ids_in_a_task() -> tuple[dict[str, str], str, str]:
    context = get_run_context()
    return prefect_run_ids(), str(context.task_run.id), str(context.task_run.flow_run_id)


@flow(name="reports_its_ids")
def reports_its_ids() -> tuple[dict[str, str], str, tuple[dict[str, str], str, str], str]:
    record = logging.LogRecord(
        "oaktree.collection", logging.INFO, __file__, 1, "collection_region_done", None, None
    )
    line = json_formatter().format(record)
    return prefect_run_ids(), str(get_run_context().flow_run.id), ids_in_a_task(), line


def test_a_failed_run_counts_in_flow_runs_failed(prefect: None, aws: None, settings: Settings) -> None:
    state = always_fails(return_state=True)

    assert state.is_failed()
    listed = aws_clients.client("cloudwatch", settings.storage_region).list_metrics(Namespace="OakTree")[
        "Metrics"
    ]
    published = {(m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed}
    assert published == {("FlowRunsFailed", (("Flow", "always_fails"),)), ("FlowRunsFailed", ())}


def test_log_lines_inside_a_run_carry_the_flow_and_task_run_ids(prefect: None) -> None:
    flow_ids, flow_run_id, (task_ids, task_run_id, task_flow_run_id), line = reports_its_ids()

    assert flow_ids == {"flow_run_id": flow_run_id, "flow_name": "reports_its_ids"}
    assert task_ids["task_run_id"] == task_run_id
    assert task_ids["flow_run_id"] == task_flow_run_id == flow_run_id
    assert f'"flow_run_id": "{flow_run_id}"' in line
    assert prefect_run_ids() == {}


@pytest.mark.parametrize("field", ["flow_run_id", "flow_name"])
def test_outside_a_run_lines_carry_no_run_fields(field: str) -> None:
    record = logging.LogRecord("oaktree.cli", logging.INFO, __file__, 1, "db.upgraded", None, None)

    assert field not in json_formatter().format(record)
