"""Prefect flows: orchestration only. Every rule they apply lives in `oaktree/`.

Importing a flow module routes OakTree's structlog events through stdlib logging, where
`flows/logging.yml` (Prefect's logging configuration for these flows) renders them as JSON lines.
"""

from oaktree.logs import configure_structlog

configure_structlog()
