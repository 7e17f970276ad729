"""Starting a command service's process: settings, JSON logs, the sidecar client, the
callback server.

The app listens on loopback by default: its sidecar (the embedded one locally, daprd in
the pod) is the only caller, and reaches it over localhost.
"""

from __future__ import annotations

import logging
from typing import Annotated, TypeVar

from dapr.clients import DaprClient
from dapr.ext.grpc import App
from pydantic import Field
from pydantic_settings import BaseSettings

from foundation import logs, tracing
from foundation.settings import ENV, exit_on_error, load
from services.common.metrics import serve_metrics

log = logging.getLogger("services.startup")

Port = Annotated[int, Field(ge=0, le=65535)]


class ServiceSettings(BaseSettings):
    """What every command service reads from its environment.

    | variable | meaning |
    |---|---|
    | `APP_PORT` | callback port the sidecar delivers pub/sub to (default: as in dapr.yaml) |
    | `APP_HOST` | address the callback server binds (default `127.0.0.1`) |
    | `LOG_LEVEL` | `debug`, `info` (default), `warning`, `error` |
    | `METRICS_PORT` | Prometheus `/metrics` port (default `0`: not served) |
    | `METRICS_HOST` | address the metrics server binds (default `127.0.0.1`; `0.0.0.0` in a pod) |
    """

    model_config = ENV

    app_port: Port | None = None
    app_host: str = "127.0.0.1"
    metrics_port: Port = 0
    metrics_host: str = "127.0.0.1"


S = TypeVar("S", bound=ServiceSettings)


def start(app_id: str, settings: type[S]) -> tuple[S, DaprClient]:
    """The service's settings (a bad variable ends the process with one line naming it),
    JSON logging, traces (`OTEL_*`, `foundation.tracing`), and a client of the sidecar once
    the sidecar answers (the SDK waits for its health endpoint: `DAPR_HTTP_PORT`,
    `DAPR_HEALTH_TIMEOUT`)."""
    chosen = exit_on_error(lambda: load(settings))
    logs.configure(app_id)
    exit_on_error(lambda: tracing.configure(app_id))
    return chosen, DaprClient()


def serve(app: App, settings: ServiceSettings, default_port: int) -> None:
    """Serves `app` on `APP_PORT` (else `default_port`, as in dapr.yaml) until stopped."""
    port = settings.app_port or default_port
    if settings.metrics_port:
        serve_metrics(settings.metrics_port, settings.metrics_host)
        log.info("serving metrics", extra={"port": settings.metrics_port})
    log.info("serving app callbacks", extra={"port": port})
    app.run(port, listen_address=settings.app_host)
