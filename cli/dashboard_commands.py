"""`oaktree dashboard [--port P]`: serve the Streamlit dashboard with its login and logout routes."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import UsageError, one_line_errors

PROJECT_DIR = Path(__file__).resolve().parent.parent
SERVER_SCRIPT = PROJECT_DIR / "dashboards" / "server.py"
# The theme and server options; read here so they apply whatever directory the command runs from.
STREAMLIT_CONFIG = PROJECT_DIR / ".streamlit" / "config.toml"

PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port to listen on.")]
AddressOption = Annotated[
    str,
    typer.Option("--address", help="Address to listen on (0.0.0.0 in a container behind a load balancer)."),
]


def streamlit_flags(config_file: Path = STREAMLIT_CONFIG) -> dict[str, Any]:
    """Return the options of the project's `.streamlit/config.toml` as Streamlit flags (section.option)."""
    if not config_file.exists():
        return {}
    flags: dict[str, Any] = {}

    def flatten(prefix: str, table: dict[str, Any]) -> None:
        for name, value in table.items():
            key = f"{prefix}.{name}" if prefix else name
            if isinstance(value, dict):
                flatten(key, value)
            else:
                flags[key] = value

    flatten("", tomllib.loads(config_file.read_text(encoding="utf-8")))
    return flags


def register(app: typer.Typer) -> None:
    """Add the dashboard command to the CLI."""

    @app.command("dashboard")
    @one_line_errors
    def dashboard(port: PortOption = 8501, address: AddressOption = "127.0.0.1") -> None:
        """Serve the dashboard (login, overview, resources, map, alerts, administration)."""
        import socket

        from streamlit.web import cli as streamlit_cli

        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                raise UsageError(f"cannot listen on {address}:{port} ({exc.strerror})") from None
        arguments = ["run", str(SERVER_SCRIPT)]
        flags = {**streamlit_flags(), "server.port": port, "server.address": address}
        for key, value in flags.items():
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            arguments.append(f"--{key}={shown}")
        streamlit_cli.main.main(args=arguments, prog_name="oaktree dashboard", standalone_mode=True)
