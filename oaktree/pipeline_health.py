"""Pipeline health from the Prefect API: the last run of each flow, and how the recent runs went.

Plain HTTP (Prefect's REST API) rather than Prefect's client, so the dashboard reads it without
importing Prefect, and an unreachable API is one clear exception (`PrefectUnreachable`) the page
shows as a message while the rest of the app keeps working.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

RECENT_RUNS = 200  # newest flow runs read per refresh (the API's page limit)


class PrefectUnreachable(Exception):
    """The Prefect API did not answer (not running, wrong URL, or an error status)."""


@dataclasses.dataclass(frozen=True, slots=True)
class FlowHealth:
    """One flow's last run and its recent record."""

    flow: str
    deployment: str | None
    last_state: str
    last_started: datetime | None
    last_seconds: float | None
    runs_last_day: int
    failed_last_day: int
    run_url: str

    def to_dict(self) -> dict[str, Any]:
        """Return the row as a dict (for a table)."""
        return dataclasses.asdict(self)


def ui_url(api_url: str) -> str:
    """Return the Prefect UI's address for an API address (`http://host:4200/api` -> `http://host:4200`)."""
    return api_url.rstrip("/").removesuffix("/api")


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        response = client.post(path, json=body)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise PrefectUnreachable(f"the Prefect API at {client.base_url} did not answer ({exc})") from None
    return response.json()


def flow_health(api_url: str, *, now: datetime | None = None, timeout: float = 5.0) -> list[FlowHealth]:
    """Return each flow's last run and its last day's runs and failures, newest activity first."""
    now = now or datetime.now(UTC)
    with httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=timeout) as client:
        flows = {flow["id"]: flow["name"] for flow in _post(client, "flows/filter", {"limit": 200})}
        deployments = {d["id"]: d["name"] for d in _post(client, "deployments/filter", {"limit": 200})}
        runs = _post(client, "flow_runs/filter", {"sort": "EXPECTED_START_TIME_DESC", "limit": RECENT_RUNS})
    by_flow: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        if run.get("state_type") in {"SCHEDULED", "PENDING"}:
            continue  # not started yet: the schedule, not the pipeline's health
        by_flow[flows.get(run["flow_id"], run["flow_id"])].append(run)
    day_ago = now - timedelta(days=1)
    rows = []
    for flow, flow_runs in by_flow.items():
        last = flow_runs[0]
        recent = [r for r in flow_runs if (_moment(r.get("start_time")) or now) >= day_ago]
        rows.append(
            FlowHealth(
                flow=flow,
                deployment=deployments.get(last.get("deployment_id")),
                last_state=last.get("state_name") or last.get("state_type") or "unknown",
                last_started=_moment(last.get("start_time")),
                last_seconds=last.get("total_run_time"),
                runs_last_day=len(recent),
                failed_last_day=sum(r.get("state_type") in {"FAILED", "CRASHED"} for r in recent),
                run_url=f"{ui_url(api_url)}/runs/flow-run/{last['id']}",
            )
        )
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(rows, key=lambda row: row.last_started or never, reverse=True)


def latest_artifact(api_url: str, key: str, *, timeout: float = 5.0) -> str | None:
    """Return the markdown of the newest artifact with `key` (e.g. the collection run's per-region table)."""
    with httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=timeout) as client:
        found = _post(
            client,
            "artifacts/filter",
            {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1},
        )
    return found[0]["data"] if found else None
