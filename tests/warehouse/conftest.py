"""Fixtures for the warehouse tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from oaktree.config import Settings


@pytest.fixture
def warehouse_dir(settings: Settings) -> Path:
    """Return the test's (empty, not yet created) warehouse folder."""
    return settings.warehouse_dir
