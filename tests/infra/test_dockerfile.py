"""Rules the production image must keep: built from uv.lock, non-root, health-checked, no secrets."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

import pytest

from tests.infra.conftest import REPO_ROOT

SECRET_NAME = re.compile(
    r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)", re.IGNORECASE
)


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    keyword: str
    arguments: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Return the instructions in order (comments dropped, backslash continuations joined)."""
    instructions: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return instructions


def env_pairs(arguments: str) -> dict[str, str]:
    """Return the NAME=value pairs of one ENV instruction."""
    return dict(token.split("=", 1) for token in shlex.split(arguments))


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile((REPO_ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last_from = max(index for index, instruction in enumerate(instructions) if instruction.keyword == "FROM")
    return instructions[last_from:]


def test_parser_joins_continuations_and_drops_comments() -> None:
    parsed = parse_dockerfile("# c\nFROM a AS b\nRUN one \\\n    # inner\n    two\nUSER 1\n")

    assert parsed == [Instruction("FROM", "a AS b"), Instruction("RUN", "one two"), Instruction("USER", "1")]


def test_multi_stage_build_on_python_311_slim(instructions: list[Instruction]) -> None:
    stages = [instruction.arguments for instruction in instructions if instruction.keyword == "FROM"]

    assert stages == ["python:3.11-slim-bookworm AS builder", "python:3.11-slim-bookworm AS runtime"]


def test_dependencies_come_from_the_lock_file_only(instructions: list[Instruction]) -> None:
    runs = [instruction.arguments for instruction in instructions if instruction.keyword == "RUN"]
    syncs = [run for run in runs if "uv sync" in run]

    assert len(syncs) == 2
    assert all("--frozen" in sync and "--no-dev" in sync for sync in syncs)
    assert not any(re.search(r"\b(pip|uv pip) install\b", run) for run in runs)


def test_final_stage_runs_as_a_non_root_user(final_stage: list[Instruction]) -> None:
    users = [instruction.arguments for instruction in final_stage if instruction.keyword == "USER"]
    args = dict(
        instruction.arguments.split("=", 1) for instruction in final_stage if instruction.keyword == "ARG"
    )

    assert users, "the runtime stage must switch to an unprivileged user"
    user = users[-1].split(":")[0]
    resolved = args.get(user.strip("${}"), user)
    assert resolved not in {"0", "root"}
    assert int(resolved) >= 1000
    # The user is switched before the command, not undone afterwards.
    keywords = [instruction.keyword for instruction in final_stage]
    assert keywords.index("USER") < keywords.index("CMD")


def test_healthcheck_runs_oaktree_check_against_streamlit(final_stage: list[Instruction]) -> None:
    healthchecks = [
        instruction.arguments for instruction in final_stage if instruction.keyword == "HEALTHCHECK"
    ]
    env = {
        name: value
        for instruction in final_stage
        if instruction.keyword == "ENV"
        for name, value in env_pairs(instruction.arguments).items()
    }

    assert len(healthchecks) == 1
    options, _, command = healthchecks[0].partition(" CMD ")
    assert json.loads(command) == ["oaktree", "check", "--health"]
    assert "--interval=60s" in options and "--timeout=30s" in options
    # `oaktree check --health` probes the process at HEALTHCHECK_URL: Streamlit's own endpoint.
    assert env["HEALTHCHECK_URL"] == f"http://127.0.0.1:{env['STREAMLIT_SERVER_PORT']}/_stcore/health"
    assert env["STREAMLIT_SERVER_PORT"] == "8501"


def test_default_command_runs_the_dashboard(final_stage: list[Instruction]) -> None:
    commands = [instruction.arguments for instruction in final_stage if instruction.keyword == "CMD"]
    entrypoints = [instruction for instruction in final_stage if instruction.keyword == "ENTRYPOINT"]

    assert [json.loads(command) for command in commands] == [["oaktree", "dashboard", "--port", "8501"]]
    # No ENTRYPOINT, so `prefect worker start ...` or `oaktree serve` replace the command as a whole.
    assert entrypoints == []


def test_no_secret_values_baked_into_the_image(instructions: list[Instruction]) -> None:
    declared = [
        name
        for instruction in instructions
        if instruction.keyword in {"ENV", "ARG"}
        for name in (
            env_pairs(instruction.arguments)
            if instruction.keyword == "ENV"
            else [instruction.arguments.split("=")[0]]
        )
    ]

    assert declared
    assert [name for name in declared if SECRET_NAME.search(name)] == []


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_context() -> None:
    ignored = {
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {".git", ".venv", ".oaktree", ".env", "**/*.tfstate*", "**/*.tfvars", "tests"} <= ignored
    # What the build needs must stay in the context.
    for needed in ("pyproject.toml", "uv.lock", "README.md", "oaktree", "dashboards", "flows"):
        assert needed not in ignored
