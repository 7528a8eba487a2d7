"""Logging configuration: configuring again (every CLI invocation does) keeps every logger current."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs

from oaktree.logs import configure_logging, get_logger


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put structlog's configuration and the root logger's handlers back as they were."""
    saved_config = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    yield
    structlog.configure(**saved_config)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_capture_logs_sees_a_logger_first_used_under_an_earlier_configuration(
    restored_logging: None,
) -> None:
    configure_logging()
    logger = get_logger("oaktree.tests.logs")
    logger.info("tests.first_use")  # the first use is when structlog would cache the logger
    configure_logging()
    with capture_logs() as captured:
        logger.warning("tests.after_reconfiguration")
    assert [entry["event"] for entry in captured] == ["tests.after_reconfiguration"]
