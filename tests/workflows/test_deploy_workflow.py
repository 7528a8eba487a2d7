"""The CI/CD workflow: actionlint finds nothing in it, and it keeps the pipeline's order and guards."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ACTIONLINT = REPO_ROOT / "scripts" / "actionlint.sh"


def actionlint(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the pinned actionlint (installed from PyPI by uv on first use)."""
    if shutil.which("uv") is None:
        pytest.fail("uv is not on PATH: run the tests through `make test`")
    return subprocess.run(
        [str(ACTIONLINT), *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1); give it back its name.
    loaded = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())
    loaded["on"] = loaded.pop(True)
    return loaded


def steps_text(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") + " " + step.get("uses", "") for step in job["steps"])


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    result = actionlint()

    assert (result.returncode, result.stdout, result.stderr.strip().splitlines()[-1:]) == (0, "", [])


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on:\n  push:\n    branch: main\n"
        "jobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.head_commit.message }}"\n'
    )

    result = actionlint(str(broken))

    assert result.returncode == 1
    assert 'unexpected key "branch" for "push" section' in result.stdout
    assert '"github.event.head_commit.message" is potentially untrusted' in result.stdout


def test_tests_run_with_make_test_against_a_postgresql_service(workflow: dict[str, Any]) -> None:
    test = workflow["jobs"]["test"]

    postgres = test["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert postgres["ports"] == ["5432:5432"]
    assert postgres["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert [step["run"] for step in test["steps"] if step.get("run", "").startswith("make")] == ["make test"]
    # tests/infra plan against a provider mirror: the job builds one.
    assert "terraform providers mirror" in steps_text(test)


def test_deploy_order_build_migrate_check_flows_rollout_verify(workflow: dict[str, Any]) -> None:
    deploy = workflow["jobs"]["deploy"]
    text = steps_text(deploy)

    assert deploy["needs"] == "test"
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert deploy["env"]["IMAGE"] == "${{ vars.ECR_REPOSITORY }}:${{ github.sha }}"
    order = [
        'docker push "$IMAGE"',
        "aws ecs register-task-definition",
        '["oaktree", "db", "upgrade", "--json"]',
        '["oaktree", "check", "--json"]',
        "prefect --no-prompt deploy --all",
        "aws ecs update-service",
        "aws ecs wait services-stable",
        "rolled-back",
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    # Credentials come from GitHub's OIDC token, never from stored keys.
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    assert "aws-access-key-id" not in (WORKFLOWS / "deploy.yml").read_text()


def test_rollback_is_reported_and_the_result_notified(workflow: dict[str, Any]) -> None:
    verify = next(step for step in workflow["jobs"]["deploy"]["steps"] if step.get("id") == "verify")
    notify = workflow["jobs"]["notify"]

    # The verification runs even when waiting for stability failed, and fails the job on rollback.
    assert verify["if"].startswith("always()")
    assert '[ "$outcome" = "deployed" ]' in verify["run"]
    assert notify["needs"] == ["test", "deploy"]
    assert notify["if"].startswith("always()")
    assert "DEPLOY_WEBHOOK_URL" in notify["steps"][0]["env"]["WEBHOOK_URL"]


def test_both_services_roll_back_on_failed_health_checks() -> None:
    ecs = (REPO_ROOT / "infra" / "ecs.tf").read_text()

    breakers = re.findall(
        r"deployment_circuit_breaker\s*\{\s*enable\s*=\s*true\s*rollback\s*=\s*true\s*\}", ecs
    )
    assert len(breakers) == 2
