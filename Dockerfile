# syntax=docker/dockerfile:1
# The platform's five images from one file, one target each:
#   docker build --target orchestrator -t saga-platform/orchestrator .
# (inventory, payment, shipping, operator alike; skaffold.yaml and `make images` build all).
#
# Base: python:3.11-slim-bookworm pinned by the digest of its multi-arch OCI index (Python
# 3.11.16 on Debian bookworm, built 2026-08-25), as the Docker Official Images record it in
# docker-library/repo-info, repos/python/remote/3.11-slim-bookworm.md. To move it, on a
# machine that can pull:
#   docker buildx imagetools inspect python:3.11-slim-bookworm
# and replace the digest below (both stages use the same base).
FROM python:3.11-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ---- console-assets: the web console's browser libraries, from the project's lock file ----
# `npm ci` from console/package-lock.json with Debian's npm on the same pinned base; only
# the three files the console serves (services/orchestrator/console: VENDOR_FILES) go on,
# into the orchestrator image. Nothing is fetched at run time: no CDN, air-gap ready.
FROM base AS console-assets
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts \
    && mkdir -p /assets/htmx.org/dist /assets/htmx-ext-sse/dist /assets/mermaid/dist \
    && cp node_modules/htmx.org/dist/htmx.min.js /assets/htmx.org/dist/ \
    && cp node_modules/htmx-ext-sse/dist/sse.min.js /assets/htmx-ext-sse/dist/ \
    && cp node_modules/mermaid/dist/mermaid.min.js /assets/mermaid/dist/

# ---- build: a virtualenv holding the platform and its runtime dependencies -------------
FROM base AS build
WORKDIR /src
RUN python -m venv /opt/venv
# requirements.lock pins every package (the dev extra too); used as a constraints file it
# fixes the version of each runtime dependency while leaving the test tools out of the image.
COPY requirements.lock pyproject.toml README.md ./
# Dependencies first, in their own layer: it is rebuilt only when the lock or pyproject change.
RUN /opt/venv/bin/pip install --no-cache-dir --constraint requirements.lock setuptools wheel \
    && mkdir -p foundation services operator/workflowrun_operator \
    && /opt/venv/bin/pip install --no-cache-dir --no-build-isolation --constraint requirements.lock . \
    && /opt/venv/bin/pip uninstall --yes saga-platform
COPY foundation ./foundation
COPY services ./services
COPY operator/workflowrun_operator ./operator/workflowrun_operator
# The code itself, without dependencies; bytecode compiled now, as the root filesystem is
# read-only at run time.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation . \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# ---- runtime: the virtualenv and a numeric non-root user, nothing else ----------------
FROM base AS runtime
RUN groupadd --system --gid 10001 saga \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin saga
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /tmp
USER 10001:10001
LABEL org.opencontainers.image.title="saga-platform" \
      org.opencontainers.image.description="Event-driven saga platform on Dapr" \
      org.opencontainers.image.licenses="Apache-2.0"

# ---- the five images -------------------------------------------------------------------
# The apps bind their gRPC callback server to loopback (only their sidecar calls it); the
# health checks connect there. Kubernetes ignores HEALTHCHECK and uses the chart's probes.
FROM runtime AS orchestrator
COPY --from=console-assets /assets /opt/console-assets
ENV CONSOLE_ASSETS_DIR=/opt/console-assets
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["python", "-m", "services.orchestrator"]

FROM runtime AS inventory
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 6001), timeout=4).close()"]
ENTRYPOINT ["python", "-m", "services.inventory"]

FROM runtime AS payment
# The card edge (POST /v1/tokens): VAULT_PORT, on 0.0.0.0 in a pod (VAULT_HOST).
EXPOSE 8090
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 6002), timeout=4).close()"]
ENTRYPOINT ["python", "-m", "services.payment"]

FROM runtime AS shipping
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 6003), timeout=4).close()"]
ENTRYPOINT ["python", "-m", "services.shipping"]

FROM runtime AS operator
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["python", "-m", "workflowrun_operator"]
