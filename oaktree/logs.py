"""Structured JSON-lines logging, one format for the CLI, the flows and the sandbox."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import structlog

# Libraries that log every request at INFO would drown OakTree's own lines.
_NOISY_LOGGERS = (
    "botocore",
    "boto3",
    "urllib3",
    "moto",
    "werkzeug",
    "s3transfer",
    "aiosmtpd",
    "mail.log",
    "alembic.runtime.migration",
    "alembic.runtime.plugins",
    "httpx",
    "httpcore",
)


class _CurrentStderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever `sys.stderr` is at emit time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


# Prefect's run context, when a record comes from a flow or task run (the rest is dropped).
_PREFECT_EXTRAS = ("flow_run_id", "flow_run_name", "flow_name", "task_run_id", "task_run_name")

# Functions returning fields every line should carry where they apply (the flows register one
# that reads Prefect's run context, so OakTree's own lines inside a run name the flow run too;
# business logic stays free of Prefect).
_CONTEXT_PROVIDERS: list[Callable[[], Mapping[str, str]]] = []


def register_context_provider(provider: Callable[[], Mapping[str, str]]) -> None:
    """Add fields from `provider()` to every log line (never overriding a field the line has)."""
    if provider not in _CONTEXT_PROVIDERS:
        _CONTEXT_PROVIDERS.append(provider)


def _merge_provided_context(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    for provider in _CONTEXT_PROVIDERS:
        for key, value in provider().items():
            event_dict.setdefault(key, value)
    return event_dict


_SHARED_PROCESSORS = (
    structlog.contextvars.merge_contextvars,
    _merge_provided_context,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
)

# Prefect's logging configuration for OakTree (flows/ sits beside oaktree/, in the repo and installed).
PREFECT_LOGGING_CONFIG = Path(__file__).resolve().parent.parent / "flows" / "logging.yml"


def use_prefect_logging_config() -> None:
    """Make Prefect, when this process imports it, log in OakTree's format (unless told otherwise)."""
    os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(PREFECT_LOGGING_CONFIG))
    # `oaktree` records outside a flow run (a CLI command) have no run to attach to: not a warning.
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


def json_formatter() -> logging.Formatter:
    """Return the formatter rendering any stdlib record as one JSON line (also used by flows/logging.yml)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED_PROCESSORS, structlog.stdlib.ExtraAdder(allow=_PREFECT_EXTRAS)],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def configure_structlog() -> None:
    """Send structlog's events through stdlib logging, whose handlers render them as JSON lines."""
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # This runs more than once per process (each CLI invocation, each flow module import); a
        # logger cached on first use would keep the processors of the configuration it first saw
        # and ignore every later one, including structlog.testing.capture_logs().
        cache_logger_on_first_use=False,
    )
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str = "INFO") -> None:
    """Route structlog and stdlib logging to stderr as one JSON object per line."""
    configure_structlog()
    handler = _CurrentStderrHandler()
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a structured logger; in flows its lines also reach Prefect through stdlib logging.

    A process that never called `configure_logging` (a flow run in a Prefect worker, a script)
    still routes structlog through stdlib logging, whose handlers (Prefect's logging.yml uses
    `json_formatter`) write the one JSON format: structlog's own default prints plain text.
    """
    if not structlog.is_configured():
        configure_structlog()
    return structlog.stdlib.get_logger(name)
