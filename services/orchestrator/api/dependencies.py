"""What routes get injected: the workflow gateway, the Dapr client, the settings, the audit
trail, and the caller's identity, checked before the route runs.

Each route declares the roles it needs (`Caller(...)`): no token or a bad one answers 401
(with `WWW-Authenticate: Bearer`), a valid token without one of those roles 403. The identity
is the route's to record (audit, the approver of a decision), never a body field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Annotated

from dapr.clients import DaprClient
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.orchestrator.api.audit import AuditTrail
from services.orchestrator.api.errors import ApiError, ErrorCode, forbidden
from services.orchestrator.api.identity import ANONYMOUS, Identity, InvalidToken, Role
from services.orchestrator.api.settings import ApiSettings
from services.orchestrator.api.workflow_gateway import WorkflowGateway

log = logging.getLogger("services.orchestrator.api")

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="`Authorization: Bearer <JWT>`: a token of the configured issuer for the "
    "API's audience, with the roles in its roles claim (docs/api.md).",
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


async def _audit(request: Request) -> AuditTrail:
    audit: AuditTrail = request.app.state.audit
    return audit


SettingsDep = Annotated[ApiSettings, Depends(_settings)]
GatewayDep = Annotated[WorkflowGateway, Depends(_gateway)]
DaprDep = Annotated[DaprClient, Depends(_dapr)]
AuditDep = Annotated[AuditTrail, Depends(_audit)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(message: str, error: str | None = None) -> ApiError:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return ApiError(
        HTTPStatus.UNAUTHORIZED,
        ErrorCode.UNAUTHORIZED,
        message,
        headers={"WWW-Authenticate": challenge},
    )


def authenticate(
    settings: ApiSettings, credentials: HTTPAuthorizationCredentials | None
) -> Identity:
    """The caller's identity, or 401."""
    if settings.auth_disabled:
        return ANONYMOUS
    if credentials is None or not credentials.credentials:
        raise _unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    if settings.verifier is None:
        raise _unauthorized("no token issuer is configured (AUTH_PUBLIC_KEY_FILE or AUTH_JWKS_URL)")
    try:
        return settings.verifier.verify(credentials.credentials)
    except InvalidToken as error:
        raise _unauthorized(f"invalid token: {error}", "invalid_token") from None


def Caller(*roles: Role) -> Callable[..., Awaitable[Identity]]:
    """A dependency answering the caller's identity when it holds one of `roles`."""
    allowed = frozenset(roles)

    async def caller(settings: SettingsDep, credentials: Credentials, request: Request) -> Identity:
        identity = authenticate(settings, credentials)
        if not identity.has_any(allowed):
            log.warning(
                "call refused: missing role",
                extra={"subject": identity.subject, "path": request.url.path},
            )
            wanted = " or ".join(sorted(allowed))
            raise forbidden(ErrorCode.FORBIDDEN, f"this call needs the role {wanted}")
        return identity

    return caller


ANY_ROLE = (Role.VIEWER, Role.OPERATOR, Role.APPROVER)
Reader = Annotated[Identity, Depends(Caller(*ANY_ROLE))]
Operator = Annotated[Identity, Depends(Caller(Role.OPERATOR))]
Approver = Annotated[Identity, Depends(Caller(Role.APPROVER))]
