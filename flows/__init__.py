"""Prefect flows: orchestration only. Every rule they apply lives in `oaktree/`.

Importing a flow module routes OakTree's structlog events through stdlib logging, where
`flows/logging.yml` (Prefect's logging configuration for these flows) renders them as JSON lines.
"""

from prefect.context import FlowRunContext, TaskRunContext

from oaktree.logs import configure_structlog, register_context_provider


def prefect_run_ids() -> dict[str, str]:
    """Return the ids of the flow run and task run this thread works for (empty outside a run)."""
    ids: dict[str, str] = {}
    flow_run = FlowRunContext.get()
    if flow_run is not None and flow_run.flow_run is not None:
        ids["flow_run_id"] = str(flow_run.flow_run.id)
        ids["flow_name"] = flow_run.flow.name if flow_run.flow is not None else ""
    task_run = TaskRunContext.get()
    if task_run is not None:
        ids["task_run_id"] = str(task_run.task_run.id)
        ids.setdefault("flow_run_id", str(task_run.task_run.flow_run_id or ""))
    return {key: value for key, value in ids.items() if value}


configure_structlog()
register_context_provider(prefect_run_ids)
