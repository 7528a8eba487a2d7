"""The `oaktree` command line: one Typer app; each domain registers its commands from its module."""

from __future__ import annotations

import typer

from cli import (
    alert_commands,
    analytics_commands,
    auth_commands,
    check_commands,
    collection_commands,
    core_commands,
    dashboard_commands,
    sandbox_commands,
    warehouse_commands,
)
from cli.common import fail

app = typer.Typer(
    name="oaktree",
    help="OakTree: discovery, CloudWatch collection, warehouse and alerts for an AWS estate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _configure(context: typer.Context) -> None:
    """OakTree: discovery, CloudWatch collection, warehouse and alerts for an AWS estate."""
    # Every command needs valid settings, and logging needs its level: read them before any
    # command runs, and before its error handling exists, so a bad value is one line here too.
    # `oaktree check` reports a bad setting in its table instead, beside everything else.
    # Imported here, not at the top, so `oaktree --help` does not pay for pydantic and structlog.
    from oaktree.config import ConfigError, get_settings
    from oaktree.logs import configure_logging, use_prefect_logging_config

    try:
        settings = get_settings()
    except ConfigError as exc:
        if context.invoked_subcommand != "check":
            fail(str(exc))
        configure_logging("INFO")
    else:
        configure_logging(settings.log_level)
    use_prefect_logging_config()


for module in (
    core_commands,
    sandbox_commands,
    collection_commands,
    warehouse_commands,
    auth_commands,
    check_commands,
    alert_commands,
    analytics_commands,
    dashboard_commands,
):
    module.register(app)


def main() -> None:
    """Entry point of the `oaktree` console script."""
    app()
