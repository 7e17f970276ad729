"""Builds the management API: one FastAPI app over the workflow client and the Dapr client
the orchestrator already holds. The orchestrator's `__main__` serves it with uvicorn.

The web console is served under `/ui/` (services/orchestrator/console): its pages take the
same token from a cookie and act through this API.

Open without a token: `/healthz` (liveness), `/readyz` (readiness), `/metrics` (Prometheus
scrapes it as the kubelet probes health: counts only, no order data) and the OpenAPI
document with its viewer (`/openapi.json`, `/docs`: they describe routes, hold no data, and
tools such as schemathesis read them). Every other route needs a bearer token with a role.
Every other request is traced (OpenTelemetry's FastAPI instrumentation).
"""

from __future__ import annotations

from typing import Any

import grpc
from dapr.clients import DaprClient
from dapr.ext.workflow import DaprWorkflowClient
from fastapi import FastAPI, Response
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pydantic.alias_generators import to_camel

from services.orchestrator.api import (
    routes_approvals,
    routes_audit,
    routes_orders,
    routes_runs,
    routes_traces,
)
from services.orchestrator.api.audit import AuditTrail
from services.orchestrator.api.errors import (
    ApiError,
    ErrorCode,
    Problem,
    error_responses,
    install_error_handlers,
)
from services.orchestrator.api.run_gauges import RunGauges
from services.orchestrator.api.schemas import Health, Readiness
from services.orchestrator.api.settings import ApiSettings
from services.orchestrator.api.workflow_gateway import WorkflowGateway
from services.orchestrator.console import install_console
from services.orchestrator.console.run_index import RunIndex
from services.orchestrator.dead_letters import DeadLetterInbox

DESCRIPTION = """\
Manage the saga platform's workflow runs (start, get, list, history, raise events,
suspend, resume, terminate, purge), decide approvals, place and cancel orders, read stock,
the audit trail and the dead letters.

Every route but `/healthz`, `/readyz`, `/metrics` and the docs needs
`Authorization: Bearer <JWT>` with a role: `viewer` reads runs, approvals and stock;
`operator` reads everything and changes runs, orders and dead letters; `approver` decides
approvals. Errors are RFC 9457 `application/problem+json` with a machine-readable `code`.
"""

TAGS = [
    {"name": "runs", "description": "Workflow runs, as `dapr workflow` manages them."},
    {"name": "approvals", "description": "Pending order approvals and decisions on them."},
    {"name": "orders", "description": "Place orders as an upstream system does; cancel them."},
    {"name": "inventory", "description": "Stock levels (read-only)."},
    {"name": "audit", "description": "Who changed what, when and why."},
    {"name": "dead-letters", "description": "Messages no app could process: inspect, replay."},
    {"name": "health", "description": "Liveness and readiness."},
    {"name": "metrics", "description": "Prometheus exposition (docs/operations.md)."},
]


def _operation_id(route: APIRoute) -> str:
    """`list_runs` -> `listRuns`: the function's name, as client generators like it."""
    return to_camel(route.name)


def create_api(workflows: DaprWorkflowClient, dapr: DaprClient, settings: ApiSettings) -> FastAPI:
    app = FastAPI(
        title="Saga platform management API",
        version="1.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.gateway = WorkflowGateway(workflows)
    app.state.dapr = dapr
    app.state.audit = AuditTrail(dapr)
    app.state.dead_letters = DeadLetterInbox(dapr)
    install_error_handlers(app)
    # The process's counters live in the default registry; the run gauges read this
    # API's workflow client, so they get a registry of their own.
    run_gauges = CollectorRegistry(auto_describe=False)
    run_gauges.register(RunGauges(app.state.gateway, settings.saga_config))

    for module in (routes_runs, routes_traces, routes_approvals, routes_orders, routes_audit):
        app.include_router(module.router)
    install_console(app, RunIndex(app.state.gateway), settings.console_assets)

    @app.get("/healthz", tags=["health"], summary="Liveness", responses=error_responses(auth=False))
    async def liveness() -> Health:
        return Health()

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: the sidecar, the workflow engine and this process's worker answer",
        responses=error_responses(auth=False),
    )
    def readiness() -> Readiness:
        checks = _readiness_checks(app.state.gateway, dapr, settings)
        if any(state != "ok" for state in checks.values()):
            failing = ", ".join(name for name, state in checks.items() if state != "ok")
            raise ApiError(503, ErrorCode.NOT_READY, f"not ready: {failing}", checks=checks)
        return Readiness(checks=checks)

    @app.get(
        "/metrics",
        tags=["metrics"],
        summary="Prometheus metrics (no token: scrapers reach it like /healthz)",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}},
            **error_responses(auth=False),
        },
    )
    def metrics() -> Response:
        body = generate_latest(REGISTRY) + generate_latest(run_gauges)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    # A server span per request, continuing a caller's `traceparent`: the root of an order's
    # trace. Probes and scrapes would each start a trace of their own, so they make none.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/healthz,/readyz,/metrics", exclude_spans=["receive", "send"]
    )
    return app


def _readiness_checks(
    gateway: WorkflowGateway, dapr: DaprClient, settings: ApiSettings
) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        dapr.get_metadata()
        checks["sidecar"] = "ok"
    except grpc.RpcError as error:
        checks["sidecar"] = f"unreachable: {_rpc_code(error)}"
    try:
        # A read through the workflow engine: it answers only once it serves workflows.
        gateway.client.get_workflow_state("readiness-probe", fetch_payloads=False)
        checks["workflows"] = "ok"
    except grpc.RpcError as error:
        checks["workflows"] = f"unavailable: {_rpc_code(error)}"
    if settings.worker_ready is not None:
        checks["worker"] = "ok" if settings.worker_ready() else "not connected"
    return checks


def _rpc_code(error: grpc.RpcError) -> str:
    code = getattr(error, "code", None)
    return str(code().name) if callable(code) else type(error).__name__


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the problem schema every error answer refers to and the
    bearer scheme on every protected operation."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schemas["Problem"].pop("$defs", {}).items():
            schemas[name] = definition
        app.openapi_schema = document
    return app.openapi_schema
