"""`python -m services.orchestrator`: the workflow worker, the pub/sub callback server and
the management API in one process, all talking to the app's sidecar.

Start order: JSON logging; traces (`OTEL_*`, `foundation.tracing`: before any gRPC
channel opens, so every call to the sidecar carries the trace context); the Dapr client
(the SDK waits for the sidecar's health endpoint); the workflow runtime (connects through
`DAPR_GRPC_PORT`) with every workflow and activity registered; the app-callback server
on `APP_PORT` in a thread; then the management API with uvicorn on `API_PORT`, in the
main thread; beside them, the purge of finished runs past their retention
(`services.orchestrator.retention`). SIGTERM or SIGINT stops them in reverse order: the
API (uvicorn finishes the requests in flight), the retention, the callback server, the
workflow worker, the clients. Workflows lose nothing on the way: their state lives in
the sidecar, which hands unfinished work to the next worker.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import dapr.ext.workflow as wf
import uvicorn
from dapr.clients import DaprClient
from dapr.ext.workflow.logger import LoggerOptions

from foundation import logs, tracing
from foundation.settings import exit_on_error
from services.orchestrator import metrics
from services.orchestrator.api import ApiSettings, create_api
from services.orchestrator.api.identity import TokenVerifier
from services.orchestrator.api.workflow_gateway import WorkflowGateway
from services.orchestrator.registration import register
from services.orchestrator.retention import RunRetention
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.subscriptions import OrchestratorSubscriptions, build_app

log = logging.getLogger("services.orchestrator")


def _sdk_logging() -> LoggerOptions:
    """The SDK gives its loggers a handler of their own, which would print each line a
    second time, unformatted: a null one lets the records reach our JSON handler alone."""
    return LoggerOptions(
        log_level=logging.getLevelName(logging.getLogger().level),
        log_handler=logging.NullHandler(),
    )


def main() -> None:
    settings = exit_on_error(OrchestratorSettings.from_env)
    logs.configure(settings.app_id)
    exit_on_error(lambda: tracing.configure(settings.app_id))
    metrics.declare()
    stopping = _stop_on_signals()
    dapr = DaprClient()
    workflows = wf.DaprWorkflowClient(logger_options=_sdk_logging())
    runtime = wf.WorkflowRuntime(logger_options=_sdk_logging())
    register(runtime, dapr)
    runtime.start()
    log.info("workflow runtime started")

    app = build_app(
        OrchestratorSubscriptions(workflows, dapr, settings.saga_config, settings.app_id)
    )
    callbacks = threading.Thread(
        target=app.run, args=(settings.app_port, settings.app_host), name="app-callbacks"
    )
    callbacks.start()
    log.info("serving app callbacks", extra={"port": settings.app_port})
    retention = RunRetention(
        WorkflowGateway(workflows), settings.run_retention, settings.run_retention_interval
    )
    if settings.run_retention:
        retention.start()

    try:
        if settings.api_port:
            api = create_api(
                workflows=workflows,
                dapr=dapr,
                settings=ApiSettings(
                    verifier=_verifier(settings),
                    auth_disabled=settings.auth_disabled,
                    saga_config=settings.saga_config,
                    worker_ready=lambda: runtime.wait_for_worker_ready(timeout=0.1),
                    trace_store=settings.trace_store,
                    shutting_down=lambda: server.should_exit,
                    console_assets=settings.console_assets_dir,
                ),
            )
            server = uvicorn.Server(
                uvicorn.Config(
                    api,
                    host=settings.api_host,
                    port=settings.api_port,
                    log_config=None,  # keep the JSON logging configured above
                    timeout_graceful_shutdown=10,
                )
            )
            log.info("serving the management API", extra={"port": settings.api_port})
            if not stopping.is_set():
                # uvicorn handles SIGTERM/SIGINT while it runs, then hands the signal on
                # to our handler, which only records it.
                server.run()
        else:
            stopping.wait()
    finally:
        log.info("shutting down")
        retention.stop()
        app.stop()
        callbacks.join(timeout=10)
        runtime.shutdown()
        workflows.close()
        dapr.close()
        log.info("stopped")


def _verifier(settings: OrchestratorSettings) -> TokenVerifier | None:
    """The bearer-token check the settings describe; None (every call refused) without a
    key source, said once at start."""
    if settings.auth_disabled:
        log.warning("authentication is OFF (AUTH_DISABLED): every caller holds every role")
        return None
    if not (settings.auth_jwks_url or settings.auth_public_key_file):
        log.error(
            "no token issuer configured (AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE): the API "
            "refuses every authenticated call"
        )
        return None
    return TokenVerifier(
        settings.auth_issuer,
        settings.auth_audience,
        public_key_file=settings.auth_public_key_file,
        jwks_url=settings.auth_jwks_url,
        roles_claim=settings.auth_roles_claim,
    )


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, which then no longer kill the process outright,
    so the shutdown above runs to its end."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stopping


if __name__ == "__main__":
    main()
