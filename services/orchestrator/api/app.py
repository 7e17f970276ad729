"""Builds the management API: one FastAPI app over the workflow client and the Dapr client
the orchestrator already holds. The orchestrator's `__main__` serves it with uvicorn."""

from __future__ import annotations

from dapr.clients import DaprClient
from dapr.ext.workflow import DaprWorkflowClient
from fastapi import Depends, FastAPI

from services.orchestrator.api import routes_approvals, routes_orders, routes_runs
from services.orchestrator.api.dependencies import require_token
from services.orchestrator.api.errors import install_error_handlers
from services.orchestrator.api.schemas import Health
from services.orchestrator.api.settings import ApiSettings
from services.orchestrator.api.workflow_gateway import WorkflowGateway

DESCRIPTION = """\
Manage the saga platform's workflow runs (start, get, list, history, raise events,
suspend, resume, terminate, purge), decide approvals, place orders and read stock.

Every error answers `{"error": {"code": "...", "message": "..."}}`. When the API runs with
a token, every route except `/healthz` and the docs needs `Authorization: Bearer <token>`.
"""

TAGS = [
    {"name": "runs", "description": "Workflow runs, as `dapr workflow` manages them."},
    {"name": "approvals", "description": "Pending order approvals and decisions on them."},
    {"name": "orders", "description": "Place orders as an upstream system does."},
    {"name": "inventory", "description": "Stock levels (read-only)."},
    {"name": "health", "description": "Liveness."},
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

    protected = [Depends(require_token)]
    for module in (routes_runs, routes_approvals, routes_orders):
        app.include_router(module.router, dependencies=protected)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> Health:
        return Health()

    return app
