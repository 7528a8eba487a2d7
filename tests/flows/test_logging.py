"""Flows, Prefect and OakTree's own loggers write one format: JSON lines with the same keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from oaktree.logs import PREFECT_LOGGING_CONFIG

SCRIPT = """
import logging
import flows.discover  # noqa: F401  (configures structlog like every flow module)
from prefect.logging import get_logger
from oaktree.logs import get_logger as oaktree_logger

get_logger("prefect.flow_runs.example").warning("from prefect")
oaktree_logger("oaktree.example").info("from_oaktree", region="us-east-1")
"""


def test_prefect_and_oaktree_lines_share_one_json_format() -> None:
    env = {**os.environ, "PREFECT_LOGGING_SETTINGS_PATH": str(PREFECT_LOGGING_CONFIG)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    by_event = {record["event"]: record for record in records}
    assert by_event["from prefect"]["logger"] == "prefect.flow_runs.example"
    assert by_event["from prefect"]["level"] == "warning"
    assert by_event["from_oaktree"]["region"] == "us-east-1"
    for record in (by_event["from prefect"], by_event["from_oaktree"]):
        assert {"event", "level", "logger", "timestamp"} <= record.keys()
    assert not [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("{")]
