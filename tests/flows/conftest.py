"""One Prefect test harness for every flow test: its temporary server takes 10-17 s to start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Run flows against a temporary Prefect server shared by the whole session."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def prefect(prefect_harness: None) -> None:
    """Request the shared Prefect harness (by name, like the `aws` fixture)."""
