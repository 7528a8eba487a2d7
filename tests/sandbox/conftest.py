"""Sandbox fixtures: one real moto server per test module, populated once, reached over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from oaktree import aws as aws_clients
from oaktree.config import load_settings
from sandbox.server import Sandbox, start_sandbox

REGIONS = ("ap-southeast-1", "us-east-1")
SEED = 1234
# Long enough to hold the incident's first 20 minutes and 40 quiet minutes before it.
BACKFILL_HOURS = 1.0
# A fixed start keeps the daily cycle, the incident window and the backfill the same every run.
START = datetime(2026, 3, 2, 9, 30, 25, tzinfo=UTC)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """Start a populated sandbox (no live writer) on a free port for the whole module."""
    settings = load_settings(regions=REGIONS)
    with start_sandbox(
        port=0,
        regions=REGIONS,
        seed=SEED,
        settings=settings,
        backfill_hours=BACKFILL_HOURS,
        live=False,
        now=START,
    ) as running:
        yield running


@pytest.fixture
def sandbox_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Point this test's boto3 clients at the module's sandbox (the root conftest clears the endpoint)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    aws_clients.reset_clients()
    return sandbox
