# OakTree: `make demo` runs the pipeline on a local sandbox AWS account; `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# pip --user puts uv in ~/.local/bin, which is not always on PATH.
export PATH := $(HOME)/.local/bin:$(PATH)
UV = uv
PREFECT_PORT ?= 4200
PREFECT_HOME ?= $(CURDIR)/.oaktree/prefect
export PREFECT_HOME
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
# Prefect logs in OakTree's JSON-lines format (flows/logging.yml).
export PREFECT_LOGGING_SETTINGS_PATH := $(CURDIR)/flows/logging.yml
export PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW := ignore
# Byte-compile the dependencies when installing them: where PYTHONDONTWRITEBYTECODE is set (as
# on CI machines) every `oaktree` command would otherwise recompile ~600 modules at start.
export UV_COMPILE_BYTECODE := 1

.PHONY: help uv venv lint format test test-fast demo demo-once bench services infra-validate clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

uv: ## Install uv if it is missing
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

venv: uv ## Create or refresh .venv exactly from uv.lock
	@$(UV) sync --frozen --quiet
	@$(UV) run --frozen python -m compileall -q oaktree cli models migrations flows sandbox dashboards >/dev/null
	@mkdir -p $(PREFECT_HOME)

services: ## Start (installing if needed) PostgreSQL, and install Debian's chromium, for the tests
	@scripts/ensure-services.sh

lint: venv ## ruff lint and format check, and the layer contracts (import-linter)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports --no-cache

format: venv ## Apply ruff's formatting and safe fixes
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

test: venv services lint ## Lint, then run every test against real PostgreSQL, moto and loopback servers
	$(UV) run --frozen pytest

demo: venv ## Start a Prefect server and run the pipeline on the sandbox account, serving the schedules
	@scripts/demo.sh

demo-once: venv ## Run the whole pipeline once on a fresh sandbox and print a JSON summary
	@$(UV) run --frozen --quiet oaktree demo --once --json

bench: venv ## Run the benchmarks and print their tables (ONLY="bench_x bench_y" runs some)
	$(UV) run --frozen python -m benchmarks $(ONLY)

infra-validate: ## terraform fmt/validate and checkov on infra/
	@infra/validate.sh

clean: ## Remove the embedded state (.oaktree) and caches
	rm -rf .oaktree .pytest_cache .ruff_cache
