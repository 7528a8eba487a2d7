"""CLI start-up: `oaktree --help` and `oaktree users list` against the 1-second budget.

Each command runs in a fresh process (median of several runs, wall clock), side by side with
two references measured in the same run: the interpreter alone (the floor no CLI can beat),
and the same command with every command module's dependencies imported up front, which is what
the CLI paid before it imported them inside the commands (the database layer, boto3, pandas,
pyarrow, duckdb and the alert engine).

Run: `uv run python -m benchmarks bench_cli`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_collection import markdown

BUDGET_SECONDS = 1.0

# What the command modules imported at their top before start-up was made lazy.
EAGER_IMPORTS = (
    "import sqlalchemy.orm, alembic.command, boto3, pandas, pyarrow, duckdb; "
    "import oaktree.db, oaktree.auth.users, oaktree.auth.context, oaktree.alerts.service, "
    "oaktree.alerts.engine, oaktree.collection.pipeline, oaktree.discovery.pipeline, "
    "oaktree.warehouse.rollups, oaktree.check"
)


def _seconds(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _median(argv: list[str], env: dict[str, str], runs: int) -> float:
    _seconds(argv, env)  # warm the file cache once
    return statistics.median(_seconds(argv, env) for _ in range(runs))


def main(argv: list[str] | None = None) -> None:
    """Measure the start-up of the CLI commands and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (the median is shown)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="oaktree-bench-cli-") as data_dir:
        env = {name: value for name, value in os.environ.items() if not name.startswith(("OAKTREE_", "AWS_"))}
        env["OAKTREE_DATA_DIR"] = data_dir
        python = sys.executable
        subprocess.run(
            [python, "-m", "cli", "db", "upgrade"], env=env, check=True, capture_output=True
        )  # `users list` needs a migrated database
        floor = _median([python, "-c", "pass"], env, args.runs)
        rows = []
        for command in (["--help"], ["users", "list"]):
            ours = _median([python, "-m", "cli", *command], env, args.runs)
            eager = _median(
                [
                    python,
                    "-c",
                    f"{EAGER_IMPORTS}; import sys, cli; sys.argv = ['oaktree', *{command!r}]; cli.main()",
                ],
                env,
                args.runs,
            )
            rows.append(
                {
                    "command": "oaktree " + " ".join(command),
                    "seconds": f"{ours:.2f}",
                    "budget": f"{BUDGET_SECONDS:.1f} s",
                    "within budget": "yes" if ours <= BUDGET_SECONDS else "NO",
                    "eager imports (s)": f"{eager:.2f}",
                    "eager / ours": f"{eager / ours:.1f}x",
                    "interpreter alone (s)": f"{floor:.2f}",
                }
            )
    print(f"## CLI start-up (median of {args.runs} fresh processes)\n")
    print(markdown(rows))
    print(
        f"\nByte-compiled dependencies (`make venv` sets UV_COMPILE_BYTECODE): "
        f"{'yes' if _compiled() else 'NO: every start recompiles them'}"
    )


def _compiled() -> bool:
    import sqlalchemy

    cache = Path(sqlalchemy.__file__).parent / "__pycache__"
    return cache.is_dir() and any(cache.iterdir())


if __name__ == "__main__":
    main()
