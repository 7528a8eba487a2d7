"""`oaktree sandbox`: run the local sandbox AWS account until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated, Any

import typer

from cli.common import JsonOption, UsageError, current_settings, emit, one_line_errors


def _human(summary: dict[str, Any]) -> str:
    lines = [
        f"sandbox AWS endpoint: {summary['endpoint_url']}",
        "to use it from another terminal (moto accepts any credentials):",
        *(f"  export {name}={value}" for name, value in summary["environment"].items()),
        f"regions: {', '.join(summary['regions'])} (seed {summary['seed']})",
        f"incident in progress since {summary['incident_window_start'].isoformat()} "
        f"for {summary['incident_window_minutes']} minutes, every 6 hours",
    ]
    for region, fleet in summary["fleet"].items():
        lines.append(
            f"  {region}: {fleet['instances']} instances ({fleet['running_instances']} running, "
            f"{fleet['stopped_instances']} stopped), {len(fleet['clusters'])} ECS clusters, "
            f"{len(fleet['services'])} services, {len(fleet['tables'])} tables; incident on "
            f"{fleet['incident_instance_id']} and table {fleet['incident_table']}"
        )
    lines.append("writing live metrics every minute; Ctrl-C to stop")
    return "\n".join(lines)


def _wait_for_termination() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # A bounded wait keeps the main thread responsive to signals on every platform.
        while not stop.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(app: typer.Typer) -> None:
    """Add `oaktree sandbox`."""

    @app.command("sandbox")
    @one_line_errors
    def sandbox(
        port: Annotated[
            int | None,
            typer.Option(
                "--port", min=0, max=65535, help="Port on 127.0.0.1 (default OAKTREE_SANDBOX_PORT; 0: any)."
            ),
        ] = None,
        backfill_hours: Annotated[
            float, typer.Option("--backfill-hours", min=0, help="Hours of 1-minute metrics written at start.")
        ] = 6.0,
        json_output: JsonOption = False,
    ) -> None:
        """Run a local AWS account (moto) with a simulated fleet and live CloudWatch metrics."""
        # Imported here: moto's server stack is heavy and only this command needs it.
        from sandbox.server import SandboxPortInUseError, start_sandbox

        settings = current_settings()
        try:
            running = start_sandbox(
                port=settings.sandbox_port if port is None else port,
                regions=settings.regions,
                seed=settings.sandbox_seed,
                settings=settings,
                backfill_hours=backfill_hours,
            )
        except SandboxPortInUseError as exc:
            raise UsageError(str(exc)) from None
        with running:
            emit(running.summary(), as_json=json_output, human=_human)
            _wait_for_termination()
