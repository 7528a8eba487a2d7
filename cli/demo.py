"""The demo: a fresh sandbox account, the whole pipeline once, and a summary of what it did.

The sandbox is only an AWS endpoint (`AWS_ENDPOINT_URL`); everything after `start_sandbox` is
the production code path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.demo_alerts import run_alert_step
from oaktree import config

if TYPE_CHECKING:
    from oaktree.config import Settings

DEMO_SUBDIR = "demo"
LOGINS_FILE = "demo-logins.txt"
# The sandbox writes six hours of history; the first collection reads all of it, so the warehouse
# holds what the sandbox promised (the production default of three hours keeps first runs short).
DEMO_LOOKBACK_MINUTES = 360


def use_fresh_demo_dir(settings: Settings) -> Settings:
    """Point this process (and its children) at an emptied `<data dir>/demo`; return its settings.

    The demo keeps its state apart from anything else in the data dir, and starts from nothing
    each time because a fresh sandbox has new resource ids.
    """
    demo_dir = (settings.data_dir / DEMO_SUBDIR).resolve()
    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_dir.mkdir(parents=True)
    os.environ["OAKTREE_DATA_DIR"] = str(demo_dir)
    os.environ.pop("OAKTREE_DATABASE_URL", None)  # the demo's users live in its own SQLite file
    os.environ.setdefault("OAKTREE_BACKFILL_LOOKBACK_MINUTES", str(DEMO_LOOKBACK_MINUTES))
    config.get_settings.cache_clear()
    return config.get_settings()


@dataclass
class Step:
    """One pipeline step: its name, the function that runs it, and the Prefect flow that can instead.

    Both return the same summary. With a Prefect API (`make demo`), the flow runs so the Prefect UI
    shows the first pass; without one (`make demo-once`, tests) the function runs, since starting a
    temporary Prefect server would cost more than the pass itself.
    """

    name: str
    run: Callable[[Settings], dict[str, Any]]
    flow: Callable[[], dict[str, Any]] | None = None


def _bootstrap(settings: Settings) -> dict[str, Any]:
    from oaktree.warehouse.lake import lake_location, open_for_writing

    open_for_writing(settings).close()
    return {"warehouse": lake_location(settings).shown}


def _discover(settings: Settings) -> dict[str, Any]:
    from oaktree.discovery.pipeline import discover_all

    return discover_all(settings).to_dict()


def _discover_flow() -> dict[str, Any]:
    from flows.discover import discover_resources

    return discover_resources()


def _collect(settings: Settings) -> dict[str, Any]:
    from oaktree.collection.pipeline import collect_once

    return collect_once(settings=settings).to_dict()


def _collect_flow() -> dict[str, Any]:
    from flows.collect import collect_metrics

    return collect_metrics()


def _rollup(settings: Settings) -> dict[str, Any]:
    from oaktree.warehouse.rollups import rollup_warehouse

    return rollup_warehouse(settings).to_dict()


def _rollup_flow() -> dict[str, Any]:
    from flows.warehouse import rollup_metrics

    return rollup_metrics()


def _users(settings: Settings) -> dict[str, Any]:
    """Create the demo accounts; their passwords go to a file only the owner can read, not the summary."""
    from oaktree.auth.demo import ensure_demo_users
    from oaktree.db import upgrade

    upgrade(settings.sqlalchemy_url)
    credentials = ensure_demo_users(settings=settings)
    logins = Path(settings.data_dir) / LOGINS_FILE
    logins.touch(mode=0o600)
    logins.chmod(0o600)
    logins.write_text("".join(f"{c['username']} {c['password']} {c['role']}\n" for c in credentials))
    return {
        "demo_users": [{"username": c["username"], "role": c["role"]} for c in credentials],
        "logins_file": str(logins),
    }


def _alerts(settings: Settings) -> dict[str, Any]:
    return run_alert_step(settings)


def _alerts_flow() -> dict[str, Any]:
    from flows.alerts import evaluate_alerts

    return run_alert_step(config.get_settings(), evaluate=lambda _settings: evaluate_alerts())


PIPELINE = (
    Step("bootstrap", _bootstrap),
    Step("discovery", _discover, _discover_flow),
    Step("collection", _collect, _collect_flow),
    Step("rollups", _rollup, _rollup_flow),
    Step("users", _users),
    Step("alerts", _alerts, _alerts_flow),
)


def run_pipeline(settings: Settings, *, as_flow_runs: bool = False) -> dict[str, Any]:
    """Run every pipeline step once in order (as Prefect flow runs where asked); return their summaries."""
    from oaktree.logs import get_logger
    from oaktree.warehouse.lake import lake_location

    log = get_logger(__name__)
    summary: dict[str, Any] = {"started_at": datetime.now(UTC), "flow_runs": as_flow_runs}
    for step in PIPELINE:
        started = time.monotonic()
        result = step.flow() if as_flow_runs and step.flow is not None else step.run(settings)
        result.pop("resources", None)  # the per-resource list is `oaktree discover --json`'s job
        summary[step.name] = result
        summary[step.name]["seconds"] = round(time.monotonic() - started, 2)
        log.info("demo_step_done", step=step.name, seconds=summary[step.name]["seconds"])
    summary["warehouse"] = lake_location(settings).shown
    return summary


def read_logins(data_dir: Path) -> list[tuple[str, str, str]]:
    """Return the demo logins (username, password, role) written by the users step."""
    lines = (Path(data_dir) / LOGINS_FILE).read_text().splitlines()
    return [tuple(line.split(" ", 2)) for line in lines if line]  # type: ignore[misc]


def start_dashboard(port: int, *, timeout_seconds: float = 90) -> subprocess.Popen[bytes]:
    """Start `oaktree dashboard` on the demo's data (this process's environment); return the process.

    Waits until the app answers its health check, and exports its address for the summary.
    """
    import httpx

    url = f"http://127.0.0.1:{port}"
    log_file = (Path(os.environ["OAKTREE_DATA_DIR"]) / "dashboard.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "dashboard", "--port", str(port)], stdout=log_file, stderr=log_file
    )
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                os.environ["OAKTREE_DASHBOARD_URL"] = url
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    return process  # the summary then says it is not running; its log says why
