"""Infra fixtures: the Terraform sources as text, and a Terraform working copy initialised from
the provider mirror baked into the machine image (no registry, no network)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
# The image of the project's machines ships the AWS provider here; TF_PLUGIN_DIR points elsewhere.
DEFAULT_PLUGIN_DIR = Path("/opt/tf-plugins")

# Values a real deployment passes in terraform.tfvars (nothing secret is ever among them).
PLAN_VARIABLES = {
    "acm_certificate_arn": "arn:aws:acm:ap-southeast-1:123456789012:certificate/0b6ad2a1-5a3c-4f43-9d1c-1111",
    "image_tag": "3f2c1e0",
    "prefect_api_url": "https://api.prefect.cloud/api/accounts/acc/workspaces/ws",
    "alarm_email": "oncall@example.com",
    "domain_name": "oaktree.example.com",
    "route53_zone_id": "Z0123456789ABCDEFGHIJ",
}


def top_level_block(text: str, header: str) -> str:
    """Return one top-level HCL block (`terraform fmt` closes each with a `}` in column 0)."""
    start = text.index(header)
    end = text.index("\n}", start)
    return text[start : end + 2]


def read_infra_text() -> str:
    """Return every .tf file of infra/ concatenated."""
    return "\n".join(path.read_text() for path in sorted(INFRA_DIR.glob("*.tf")))


def plugin_dir() -> Path:
    """Return the provider mirror folder, failing loudly when the machine lacks it."""
    folder = Path(os.environ.get("TF_PLUGIN_DIR", DEFAULT_PLUGIN_DIR))
    if not (folder / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.fail(f"no AWS provider mirror under {folder} (see infra/README.md, 'Validating')")
    return folder


def terraform_binary() -> str:
    """Return the terraform executable, failing loudly when the machine lacks it."""
    binary = shutil.which("terraform")
    if binary is None:
        pytest.fail("terraform is not on PATH (see infra/README.md, 'Validating')")
    return binary


@dataclass(frozen=True)
class TerraformWorkdir:
    """A copy of infra/ with local state, initialised offline."""

    path: Path
    binary: str
    env: dict[str, str]

    def run(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run one terraform command in the copy; raise with its output if it fails."""
        result = subprocess.run(
            [self.binary, *args],
            cwd=self.path,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=180,
        )
        if result.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result


def _terraform_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        # No version check against HashiCorp's servers, no prompts, no colour codes in the output.
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        TF_CLI_ARGS="-no-color",
        TF_CLI_CONFIG_FILE=str(home / "terraformrc"),
    )
    (home / "terraformrc").write_text("# empty: providers come from -plugin-dir\n")
    return env


def make_workdir(tmp_path_factory: pytest.TempPathFactory, variables: dict[str, Any]) -> TerraformWorkdir:
    """Copy infra/ to a temp folder, swap the S3 backend for local state, run terraform init."""
    workdir = tmp_path_factory.mktemp("terraform")
    for source in INFRA_DIR.glob("*.tf"):
        shutil.copy(source, workdir / source.name)
    # An override file replaces the remote backend, so plans run without an S3 state bucket.
    (workdir / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    (workdir / "test.auto.tfvars.json").write_text(json.dumps(variables))
    copy = TerraformWorkdir(path=workdir, binary=terraform_binary(), env=_terraform_env(workdir))
    copy.run("init", "-input=false", f"-plugin-dir={plugin_dir()}")
    return copy


def plan_against(workdir: TerraformWorkdir, moto_endpoint: str) -> dict[str, Any]:
    """Plan the whole stack against moto and return `terraform show -json` of the plan."""
    aws_env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
    workdir.run("plan", "-input=false", "-out=plan.bin", extra_env=aws_env)
    shown = workdir.run("show", "-json", "plan.bin", extra_env=aws_env)
    return json.loads(shown.stdout)


@pytest.fixture(scope="module")
def terraform_workdir(tmp_path_factory: pytest.TempPathFactory) -> TerraformWorkdir:
    """A working copy of infra/ with the variables of a deployment that brings its certificate."""
    return make_workdir(tmp_path_factory, PLAN_VARIABLES)


@pytest.fixture(scope="module")
def plan(terraform_workdir: TerraformWorkdir, moto_endpoint: str) -> dict[str, Any]:
    """Plan the whole stack against moto and return `terraform show -json` of the plan."""
    return plan_against(terraform_workdir, moto_endpoint)


def planned_values(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the values known at plan time of every resource, by address."""
    return {
        resource["address"]: resource.get("values", {})
        for resource in plan["planned_values"]["root_module"]["resources"]
    }


def configured_resources(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the configuration (expressions and references) of every resource, by address."""
    return {resource["address"]: resource for resource in plan["configuration"]["root_module"]["resources"]}


def references(expression: dict[str, Any]) -> set[str]:
    """Return the addresses an expression refers to."""
    return set(expression.get("references", []))


def strip_comments(hcl: str) -> str:
    """Return HCL text without `#` and `//` line comments (none of the checked strings hold them)."""
    return re.sub(r"(?m)^\s*(#|//).*$", "", hcl)
