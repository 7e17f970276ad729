"""What routes get injected: the workflow gateway, the Dapr client, the settings, and the
bearer-token check every route except `/healthz` and the docs runs first."""

from __future__ import annotations

import hmac
from http import HTTPStatus
from typing import Annotated

from dapr.clients import DaprClient
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.orchestrator.api.errors import ApiError, ErrorCode
from services.orchestrator.api.settings import ApiSettings
from services.orchestrator.api.workflow_gateway import WorkflowGateway

_bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer <token>`, required when the API is started with a token.",
)


async def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def _gateway(request: Request) -> WorkflowGateway:
    gateway: WorkflowGateway = request.app.state.gateway
    return gateway


async def _dapr(request: Request) -> DaprClient:
    dapr: DaprClient = request.app.state.dapr
    return dapr


SettingsDep = Annotated[ApiSettings, Depends(_settings)]
GatewayDep = Annotated[WorkflowGateway, Depends(_gateway)]
DaprDep = Annotated[DaprClient, Depends(_dapr)]


async def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if settings.token is None:
        return
    presented = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(presented.encode(), settings.token.encode()):
        raise ApiError(
            HTTPStatus.UNAUTHORIZED,
            ErrorCode.UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
