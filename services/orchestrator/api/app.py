"""Builds the management API: one FastAPI app over the workflow client and the Dapr client
the orchestrator already holds. The orchestrator's `__main__` serves it with uvicorn."""

from __future__ import annotations

from dapr.clients import DaprClient
from dapr.ext.workflow import DaprWorkflowClient
from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from services.orchestrator.api import routes_approvals, routes_orders, routes_runs
from services.orchestrator.api.dependencies import require_token
from services.orchestrator.api.errors import install_error_handlers
from services.orchestrator.api.run_gauges import RunGauges
from services.orchestrator.api.schemas import Health
from services.orchestrator.api.settings import ApiSettings
from services.orchestrator.api.workflow_gateway import WorkflowGateway

DESCRIPTION = """\
Manage the saga platform's workflow runs (start, get, list, history, raise events,
suspend, resume, terminate, purge), decide approvals, place orders and read stock.

Every error answers `{"error": {"code": "...", "message": "..."}}`. When the API runs with
a token, every route except `/healthz`, `/metrics` and the docs needs
`Authorization: Bearer <token>`.
"""

TAGS = [
    {"name": "runs", "description": "Workflow runs, as `dapr workflow` manages them."},
    {"name": "approvals", "description": "Pending order approvals and decisions on them."},
    {"name": "orders", "description": "Place orders as an upstream system does."},
    {"name": "inventory", "description": "Stock levels (read-only)."},
    {"name": "health", "description": "Liveness."},
    {"name": "metrics", "description": "Prometheus exposition (docs/operations.md)."},
]


def create_api(workflows: DaprWorkflowClient, dapr: DaprClient, settings: ApiSettings) -> FastAPI:
    app = FastAPI(
        title="Saga platform management API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
    )
    app.state.settings = settings
    app.state.gateway = WorkflowGateway(workflows)
    app.state.dapr = dapr
    install_error_handlers(app)
    # The process's counters live in the default registry; the run gauges read this
    # API's workflow client, so they get a registry of their own.
    run_gauges = CollectorRegistry(auto_describe=False)
    run_gauges.register(RunGauges(app.state.gateway, settings.saga_config))

    protected = [Depends(require_token)]
    for module in (routes_runs, routes_approvals, routes_orders):
        app.include_router(module.router, dependencies=protected)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> Health:
        return Health()

    @app.get(
        "/metrics",
        tags=["metrics"],
        summary="Prometheus metrics (no token: scrapers reach it like /healthz)",
        response_class=Response,
    )
    def metrics() -> Response:
        body = generate_latest(REGISTRY) + generate_latest(run_gauges)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
