"""Collection fixtures: settings for two regions, the metrics table in moto, fresh rate limiters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oaktree.collection.ratelimit import reset_limiters
from oaktree.config import Settings, load_settings
from oaktree.storage.tables import METRICS_TABLE, ensure_table
from tests.collection.estate import REGIONS


@pytest.fixture(autouse=True)
def fresh_limiters() -> Iterator[None]:
    """Start every test with full token buckets."""
    reset_limiters()
    yield
    reset_limiters()


@pytest.fixture
def collection_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Two regions, tables in the first, a 30-minute lookback to keep the data small."""
    monkeypatch.setenv("OAKTREE_REGIONS", ",".join(REGIONS))
    monkeypatch.setenv("OAKTREE_BACKFILL_LOOKBACK_MINUTES", "30")
    return load_settings()


@pytest.fixture
def metrics_table(aws: None, collection_settings: Settings) -> str:
    """Create the metrics table in moto and return its name."""
    ensure_table(collection_settings.metrics_table, METRICS_TABLE, collection_settings.storage_region)
    return collection_settings.metrics_table
