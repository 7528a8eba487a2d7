"""Pipeline health from the Prefect API: the last run of each flow, and how the recent runs went.

Plain HTTP (Prefect's REST API) rather than Prefect's client, so the dashboard reads it without
importing Prefect, and an unreachable API is one clear exception (`PrefectUnreachable`) the page
shows as a message while the rest of the app keeps working.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

LISTED = 200  # flows and deployments read per refresh (the API's page limit; OakTree has six)
NOT_STARTED = ["SCHEDULED", "PENDING"]  # a run in these states says nothing about health yet
FAILED = ["FAILED", "CRASHED"]


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


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    try:
        response = client.post(path, json=body)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise PrefectUnreachable(f"the Prefect API at {client.base_url} did not answer ({exc})") from None
    return response.json()


def flow_health(api_url: str, *, now: datetime | None = None, timeout: float = 5.0) -> list[FlowHealth]:
    """Return each flow's last run and its last day's runs and failures, newest activity first.

    The day's figures are counted by the API per flow (`flow_runs/count`), not from a page of
    recent runs: collection alone runs 1,440 times a day, more than any page holds.
    """
    now = now or datetime.now(UTC)
    day_ago = now - timedelta(days=1)
    started_since = {"start_time": {"after_": day_ago.isoformat()}}
    rows = []
    with httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=timeout) as client:
        flows = {flow["id"]: flow["name"] for flow in _post(client, "flows/filter", {"limit": LISTED})}
        deployments = {d["id"]: d["name"] for d in _post(client, "deployments/filter", {"limit": LISTED})}
        for flow_id, name in flows.items():
            of_flow = {"flows": {"id": {"any_": [flow_id]}}}
            last_runs = _post(
                client,
                "flow_runs/filter",
                {
                    **of_flow,
                    "flow_runs": {"state": {"type": {"not_any_": NOT_STARTED}}},
                    "sort": "EXPECTED_START_TIME_DESC",
                    "limit": 1,
                },
            )
            if not last_runs:
                continue  # registered, never run
            last = last_runs[0]
            runs_last_day = _post(client, "flow_runs/count", {**of_flow, "flow_runs": started_since})
            failed_last_day = _post(
                client,
                "flow_runs/count",
                {**of_flow, "flow_runs": {**started_since, "state": {"type": {"any_": FAILED}}}},
            )
            rows.append(
                FlowHealth(
                    flow=name,
                    deployment=deployments.get(last.get("deployment_id")),
                    last_state=last.get("state_name") or last.get("state_type") or "unknown",
                    last_started=_moment(last.get("start_time")),
                    last_seconds=last.get("total_run_time"),
                    runs_last_day=int(runs_last_day),
                    failed_last_day=int(failed_last_day),
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
