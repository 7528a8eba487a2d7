"""What every `oaktree` command shares: one-line errors with exit code 2, and `--json` output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from oaktree.config import Settings

P = ParamSpec("P")
R = TypeVar("R")

JsonOption = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary.")]

EXIT_USAGE = 2


class UsageError(Exception):
    """A command cannot run with what it was given; the message is one line for the operator."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(summary: Any) -> str:
    """Return a summary as JSON (datetimes as ISO strings)."""
    return json.dumps(summary, default=_json_default, sort_keys=True)


def emit(
    summary: dict[str, Any], *, as_json: bool, human: Callable[[dict[str, Any]], str] | None = None
) -> None:
    """Print a command's result: JSON on stdout with --json, else a readable rendering."""
    if as_json:
        typer.echo(to_json(summary))
    elif human is not None:
        typer.echo(human(summary))
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {to_json(value) if isinstance(value, dict | list) else value}")


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit 2."""
    typer.echo(f"oaktree: error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def current_settings() -> Settings:
    """Return the validated settings (imported on first use: `oaktree --help` needs none)."""
    from oaktree.config import get_settings

    return get_settings()


def operator_message(error: BaseException) -> str | None:
    """Return the one line an operator needs for a configuration or connectivity error, else None.

    The error types are imported here, when something failed, rather than at the top: importing
    botocore, pydantic and the warehouse for every `oaktree --help` would cost most of its start.
    """
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

    from oaktree.config import ConfigError
    from oaktree.warehouse.errors import WarehouseError

    if isinstance(error, ConfigError | UsageError | WarehouseError):
        return str(error)
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach the AWS endpoint ({error.kwargs.get('endpoint_url', 'unknown')})"
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found (standard chain: env, profile, instance role)"
    if isinstance(error, NoRegionError):
        return "no AWS region configured"
    return None


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn configuration and connectivity errors into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as exc:
            message = operator_message(exc)
            if message is not None:
                fail(message)
            if isinstance(exc, OSError):  # disk full, permission denied on the data dir: not config
                typer.echo(f"oaktree: error: {exc}", err=True)
                raise typer.Exit(1) from None
            raise  # a bug: keep its traceback

    return wrapper


def stdin_secret() -> str:
    """Return the one-line secret on standard input (never taken from argv, which `ps` shows).

    A terminal gives the line typed. Piped input is read to its end, and anything after the first
    line refused rather than dropped: the secret stored would not be the one the caller meant.
    """
    if sys.stdin.isatty():
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    text = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    if "\n" in text or "\r" in text:
        raise UsageError("--password-stdin takes one line, and the input has more")
    return text
