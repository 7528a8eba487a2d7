"""Shared fixtures, layered: `aws_env` -> `aws` (in-process moto) -> domain fixtures in sub-conftests."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from oaktree import aws as aws_clients
from oaktree import config
from oaktree.config import Settings, load_settings
from oaktree.logs import use_prefect_logging_config
from oaktree.storage.tables import ensure_tables
from tests.fleet import REGIONS, Fleet, make_fleet

# Prefect: no telemetry on a closed network, and a fresh home per test session (not ~/.prefect).
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="oaktree-prefect-")
use_prefect_logging_config()

PG_ADMIN_DSN = os.environ.get("OAKTREE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Give every test fake credentials, its own data dir, and no leaked endpoint or settings."""
    for name in list(os.environ):
        if name.startswith("OAKTREE_") or name in {"AWS_ENDPOINT_URL", "AWS_PROFILE"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("OAKTREE_DATA_DIR", str(tmp_path / "oaktree-data"))
    # Tests hash with the lowest cost bcrypt allows; production mode refuses anything under 12.
    monkeypatch.setenv("OAKTREE_BCRYPT_ROUNDS", "4")
    config.get_settings.cache_clear()
    aws_clients.reset_clients()
    yield
    config.get_settings.cache_clear()
    aws_clients.reset_clients()


@pytest.fixture
def settings() -> Settings:
    """Return settings read from the test environment."""
    return load_settings()


@pytest.fixture
def aws() -> Iterator[None]:
    """Run the test against moto's in-process AWS."""
    with mock_aws():
        aws_clients.reset_clients()
        yield


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """Run a moto server (every service, S3 included) in a thread on a free loopback port for the module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """Create a fresh PostgreSQL database for one test and return its SQLAlchemy URL."""
    name = f"oaktree_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def discovery_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for two regions with OakTree's own tables in the first."""
    monkeypatch.setenv("OAKTREE_REGIONS", ",".join(REGIONS))
    return load_settings()


@pytest.fixture
def fleet(aws: None, discovery_settings: Settings) -> Iterator[Fleet]:
    """Create OakTree's tables and a fleet (14 instances, 2 clusters x 6 services, 2 tables) per region."""
    ensure_tables(
        metrics_table=discovery_settings.metrics_table,
        events_table=discovery_settings.events_table,
        region=discovery_settings.storage_region,
    )
    made = Fleet({}, {}, {}, {})
    for region in REGIONS:
        ids, tagged, services, tables = make_fleet(region, instances=14, services=6)
        made.instances[region], made.tagged[region] = ids, tagged
        made.services[region], made.tables[region] = services, tables
    yield made
