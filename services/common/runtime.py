"""Starting a command service's process: JSON logs, the sidecar client, the callback server.

The app listens on loopback: its sidecar (the embedded one locally, daprd in the pod)
is the only caller, and reaches it over localhost.
"""

from __future__ import annotations

import logging
import os

from dapr.clients import DaprClient
from dapr.ext.grpc import App

from services.common.logs import configure_logging
from services.contracts.names import AppId

log = logging.getLogger("services.runtime")


def connect(app_id: AppId) -> DaprClient:
    """Configures logging and returns a client of the sidecar, once the sidecar answers
    (the SDK waits for its health endpoint: `DAPR_HTTP_PORT`, `DAPR_HEALTH_TIMEOUT`)."""
    configure_logging(app_id)
    return DaprClient()


def serve(app: App, default_port: int) -> None:
    """Serves `app` on `APP_PORT` (else `default_port`, as in dapr.yaml) until stopped."""
    port = int(os.environ.get("APP_PORT") or default_port)
    log.info("serving app callbacks", extra={"port": port})
    app.run(port, listen_address="127.0.0.1")
