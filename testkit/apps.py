"""A platform app (`python -m services.<name>`) as a process beside its sidecar.

An app gets what the Dapr CLI gives it (`APP_ID`, `APP_PORT`, `DAPR_GRPC_PORT`,
`DAPR_HTTP_PORT`) and the test's settings, never what the developer's shell happens to
hold: a stray `DAPR_API_TOKEN` or `INVENTORY_SEED` would make a test pass or fail for
reasons that are not in it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from testkit.process import ManagedProcess
from testkit.sidecar import SidecarProcess

# The platform's own settings (docs/workflows.md, docs/services.md): a test sets them.
SETTINGS_VARIABLES = frozenset(
    {
        "APP_PORT",
        "APP_HOST",
        "API_PORT",
        "API_HOST",
        "API_TOKEN",
        "AUTH_ISSUER",
        "AUTH_AUDIENCE",
        "AUTH_JWKS_URL",
        "AUTH_PUBLIC_KEY_FILE",
        "AUTH_ROLES_CLAIM",
        "AUTH_DISABLED",
        "SAGA_API_URL",
        "SAGA_API_TOKEN",
        "SAGACTL_CONFIG",
        "APPROVAL_THRESHOLD_CENTS",
        "STEP_TIMEOUT_SECONDS",
        "APPROVAL_TIMEOUT_SECONDS",
        "APPROVAL_REMINDER_SECONDS",
        "COMPENSATION_ATTEMPTS",
        "COMPENSATION_TIMEOUT_SECONDS",
        "INVENTORY_SEED",
        "PAYMENT_LIMIT_CENTS",
        "SHIPPING_COUNTRIES",
        "TRACE_STORE",
    }
)


def clean_environ() -> dict[str, str]:
    """This process's environment without the Dapr variables (the launcher sets its own),
    the OpenTelemetry ones and the platform's settings (the test sets them)."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DAPR_", "OTEL_")) and name not in SETTINGS_VARIABLES
    }


def app_process(
    module: str,
    sidecar: SidecarProcess,
    log_path: Path,
    *,
    app_port: int,
    env: Mapping[str, str] | None = None,
    ready: Callable[[], bool] | None = None,
) -> ManagedProcess:
    """`python -m <module>` talking to `sidecar`, serving on `app_port`; not started yet.

    `ready` defaults to: the sidecar has the app's subscriptions, that is, delivers to it.
    """
    return ManagedProcess(
        f"app {module}",
        (sys.executable, "-m", module),
        log_path,
        env={
            **clean_environ(),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
            "APP_ID": sidecar.app_id,
            "APP_PORT": str(app_port),
            "DAPR_GRPC_PORT": str(sidecar.grpc_port),
            "DAPR_HTTP_PORT": str(sidecar.http_port),
        },
        ready=ready or (lambda: bool(sidecar.metadata().get("subscriptions"))),
    )
