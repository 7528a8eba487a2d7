# syntax=docker/dockerfile:1.7
# One OakTree image for every process:
#   default                 oaktree dashboard --port 8501               (the Streamlit dashboard)
#   prefect worker start --pool oaktree-ecs --type process --with-healthcheck   (flow runs)
#   oaktree serve                                                       (or any `oaktree` command)

# ---------------------------------------------------------------- builder: resolve nothing, install uv.lock
FROM python:3.11-slim-bookworm AS builder

# The uv release the developers and CI use (uv.lock is written by it), from its official image.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first, from pyproject.toml and uv.lock alone, so code changes reuse this layer.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project

COPY . /app

# --frozen: install exactly uv.lock, fail instead of re-resolving; --no-dev: no test tools.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

# ---------------------------------------------------------------- runtime: no uv, no build tools, no root
# Same base as the builder: the virtualenv points at this image's /usr/local/bin/python3.11.
FROM python:3.11-slim-bookworm AS runtime

ARG APP_UID=10001

RUN groupadd --system --gid "${APP_UID}" oaktree \
    && useradd --system --uid "${APP_UID}" --gid oaktree --create-home --home-dir /home/oaktree \
       --shell /usr/sbin/nologin oaktree \
    && mkdir -p /var/lib/oaktree \
    && chown oaktree:oaktree /var/lib/oaktree

# Code and virtualenv stay owned by root: the app user can run them but not change them.
COPY --from=builder /app /app

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OAKTREE_DATA_DIR=/var/lib/oaktree \
    OAKTREE_PROJECT_DIR=/app \
    PREFECT_HOME=/var/lib/oaktree/prefect \
    PREFECT_LOGGING_SETTINGS_PATH=/app/flows/logging.yml \
    PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW=ignore \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    HEALTHCHECK_URL=http://127.0.0.1:8501/_stcore/health

WORKDIR /app
USER ${APP_UID}:${APP_UID}

# The only writable paths when ECS runs the task with a read-only root filesystem: Fargate copies
# these directories (and their ownership) from the image into the task's scratch volumes.
VOLUME ["/tmp", "/var/lib/oaktree"]

EXPOSE 8501

# `oaktree check --health`: settings valid, database reachable and at the migration head, and the
# process answering HEALTHCHECK_URL (Streamlit's health endpoint by default; the Prefect worker
# sets it to its own --with-healthcheck server, http://127.0.0.1:8080/health). The same command
# is the ECS task health check (infra/ecs.tf). Starting Python and its imports takes seconds,
# hence the one-minute interval.
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 \
    CMD ["oaktree", "check", "--health"]

CMD ["oaktree", "dashboard", "--port", "8501"]
