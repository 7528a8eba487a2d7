"""The `oaktree` command line: one Typer app; each domain registers its commands from its module."""

from __future__ import annotations

import os

import typer

from cli import (
    auth_commands,
    collection_commands,
    core_commands,
    sandbox_commands,
    warehouse_commands,
)
from oaktree.logs import configure_logging, use_prefect_logging_config

app = typer.Typer(
    name="oaktree",
    help="OakTree: discovery, CloudWatch collection, warehouse and alerts for an AWS estate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _configure() -> None:
    """OakTree: discovery, CloudWatch collection, warehouse and alerts for an AWS estate."""
    configure_logging(os.environ.get("OAKTREE_LOG_LEVEL", "INFO"))
    use_prefect_logging_config()


for module in (core_commands, sandbox_commands, collection_commands, warehouse_commands, auth_commands):
    module.register(app)


def main() -> None:
    """Entry point of the `oaktree` console script."""
    app()
