#!/usr/bin/env bash
# `make demo`: a local Prefect server (its UI shows run history), then `oaktree demo`, which
# starts the sandbox AWS account, runs the pipeline once, prints where to look, and serves the
# schedules until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PREFECT_PORT:-4200}
mkdir -p .oaktree
export PREFECT_HOME=${PREFECT_HOME:-$PWD/.oaktree/prefect}
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
export PREFECT_LOGGING_SETTINGS_PATH=${PREFECT_LOGGING_SETTINGS_PATH:-$PWD/flows/logging.yml}
export PREFECT_API_URL="http://127.0.0.1:${port}/api"

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

if ! curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1; then
  echo "demo: starting the Prefect server on 127.0.0.1:${port} (log: .oaktree/prefect-server.log)"
  uv run --frozen prefect server start --host 127.0.0.1 --port "$port" >.oaktree/prefect-server.log 2>&1 &
  server_pid=$!
  for _ in $(seq 1 90); do
    curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { echo "demo: Prefect server exited; see .oaktree/prefect-server.log" >&2; exit 1; }
    sleep 1
  done
fi
echo "demo: Prefect UI at http://127.0.0.1:${port}"
uv run --frozen oaktree demo "$@"
