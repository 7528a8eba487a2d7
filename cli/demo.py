"""The demo: a fresh sandbox account, the whole pipeline once, and a summary of what it did.

The sandbox is only an AWS endpoint (`AWS_ENDPOINT_URL`); everything after `start_sandbox` is
the production code path.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cli.demo_alerts import run_alert_step
from oaktree import config
from oaktree.auth.demo import ensure_demo_users
from oaktree.collection.pipeline import collect_once
from oaktree.config import Settings
from oaktree.db import upgrade
from oaktree.discovery.pipeline import discover_all
from oaktree.logs import get_logger
from oaktree.warehouse.lake import lake_location, open_for_writing
from oaktree.warehouse.rollups import rollup_warehouse

log = get_logger(__name__)

DEMO_SUBDIR = "demo"


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
    config.get_settings.cache_clear()
    return config.get_settings()


@dataclass
class Step:
    """One pipeline step's name, and the function that runs it and returns its summary."""

    name: str
    run: Callable[[Settings], dict[str, Any]]


def _bootstrap(settings: Settings) -> dict[str, Any]:
    open_for_writing(settings).close()
    return {"warehouse": lake_location(settings).shown}


def _discover(settings: Settings) -> dict[str, Any]:
    summary = discover_all(settings).to_dict()
    summary.pop("resources")  # the per-resource list is `oaktree discover --json`'s job
    return summary


def _collect(settings: Settings) -> dict[str, Any]:
    return collect_once(settings=settings).to_dict()


def _rollup(settings: Settings) -> dict[str, Any]:
    return rollup_warehouse(settings).to_dict()


def _users(settings: Settings) -> dict[str, Any]:
    upgrade(settings.sqlalchemy_url)
    return {"demo_users": ensure_demo_users(settings=settings)}


PIPELINE = (
    Step("bootstrap", _bootstrap),
    Step("discovery", _discover),
    Step("collection", _collect),
    Step("rollups", _rollup),
    Step("users", _users),
    Step("alerts", run_alert_step),
)


def run_pipeline(settings: Settings) -> dict[str, Any]:
    """Run every pipeline step once in order; return each step's summary and duration."""
    summary: dict[str, Any] = {"started_at": datetime.now(UTC)}
    for step in PIPELINE:
        started = time.monotonic()
        summary[step.name] = step.run(settings)
        summary[step.name]["seconds"] = round(time.monotonic() - started, 2)
        log.info("demo_step_done", step=step.name, seconds=summary[step.name]["seconds"])
    summary["warehouse"] = lake_location(settings).shown
    return summary
