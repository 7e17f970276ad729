"""Every error the management API answers with: RFC 9457 problem details, a stable code.

`application/problem+json`: `type` (a URN per code), `title`, `status`, `detail`, `instance`
(the request's path) and the extension member `code` (`WORKFLOW_NOT_FOUND`, ...); validation
problems add `errors: [{location, message}]`. Clients (the CLI, the operator) branch on
`code`, never on `detail`. The sidecar's gRPC errors are translated here, in one place: the
gRPC status code picks the HTTP status, and the `ErrorInfo` reason daprd (and the embedded
sidecar) attach, when present, becomes the code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger("services.orchestrator.api")


class ErrorCode(StrEnum):
    WORKFLOW_NOT_FOUND = "WORKFLOW_NOT_FOUND"
    WORKFLOW_NAME_NOT_FOUND = "WORKFLOW_NAME_NOT_FOUND"
    WORKFLOW_ALREADY_EXISTS = "WORKFLOW_ALREADY_EXISTS"
    WORKFLOW_NOT_TERMINAL = "WORKFLOW_NOT_TERMINAL"
    WORKFLOW_NOT_RUNNING = "WORKFLOW_NOT_RUNNING"
    APPROVAL_NOT_FOUND = "APPROVAL_NOT_FOUND"
    APPROVAL_NOT_PENDING = "APPROVAL_NOT_PENDING"
    SKU_NOT_FOUND = "SKU_NOT_FOUND"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    SELF_APPROVAL_FORBIDDEN = "SELF_APPROVAL_FORBIDDEN"
    WORKFLOW_NOT_RERUNNABLE = "WORKFLOW_NOT_RERUNNABLE"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    ORDER_NOT_CANCELLABLE = "ORDER_NOT_CANCELLABLE"
    DEAD_LETTER_NOT_FOUND = "DEAD_LETTER_NOT_FOUND"
    TRACE_NOT_FOUND = "TRACE_NOT_FOUND"
    TRACES_NOT_KEPT = "TRACES_NOT_KEPT"
    NOT_READY = "NOT_READY"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    SIDECAR_UNAVAILABLE = "SIDECAR_UNAVAILABLE"
    SIDECAR_ERROR = "SIDECAR_ERROR"
    INTERNAL = "INTERNAL"


PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:saga-platform:problem:"


class FieldProblem(BaseModel):
    location: str = Field(description="Where: `body.items.0.sku`, `query.pageSize`, ...")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every non-2xx answer."""

    type: str = Field(description="A URN naming the problem: `urn:saga-platform:problem:<code>`.")
    title: str = Field(description="A short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for people.")
    instance: str = Field(description="The path of the request that went wrong.")
    code: str = Field(description="Machine-readable code (`WORKFLOW_NOT_FOUND`): branch on it.")
    errors: list[FieldProblem] | None = Field(
        default=None, description="Validation problems, one per offending value."
    )
    checks: dict[str, str] | None = Field(
        default=None, description="Readiness: each dependency's state."
    )


class ApiError(Exception):
    """Raised anywhere below a route; the handler turns it into the error body."""

    def __init__(
        self,
        status: int,
        code: ErrorCode | str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
        checks: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = str(code)
        self.message = message
        self.headers = headers
        self.details = details
        self.checks = checks


def not_found(code: ErrorCode, message: str) -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, code, message)


def conflict(code: ErrorCode | str, message: str) -> ApiError:
    return ApiError(HTTPStatus.CONFLICT, code, message)


def forbidden(code: ErrorCode, message: str) -> ApiError:
    return ApiError(HTTPStatus.FORBIDDEN, code, message)


def validation_failed(message: str, details: list[dict[str, Any]] | None = None) -> ApiError:
    return ApiError(
        HTTPStatus.UNPROCESSABLE_ENTITY, ErrorCode.VALIDATION_FAILED, message, details=details
    )


# gRPC status -> (HTTP status, code used when the sidecar sends no ErrorInfo reason).
_GRPC_STATUS: dict[grpc.StatusCode, tuple[int, ErrorCode]] = {
    grpc.StatusCode.NOT_FOUND: (HTTPStatus.NOT_FOUND, ErrorCode.WORKFLOW_NOT_FOUND),
    grpc.StatusCode.ALREADY_EXISTS: (HTTPStatus.CONFLICT, ErrorCode.WORKFLOW_ALREADY_EXISTS),
    grpc.StatusCode.FAILED_PRECONDITION: (HTTPStatus.CONFLICT, ErrorCode.WORKFLOW_NOT_RUNNING),
    grpc.StatusCode.INVALID_ARGUMENT: (HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_ARGUMENT),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        ErrorCode.PAYLOAD_TOO_LARGE,
    ),
    grpc.StatusCode.UNAVAILABLE: (HTTPStatus.SERVICE_UNAVAILABLE, ErrorCode.SIDECAR_UNAVAILABLE),
    grpc.StatusCode.DEADLINE_EXCEEDED: (
        HTTPStatus.SERVICE_UNAVAILABLE,
        ErrorCode.SIDECAR_UNAVAILABLE,
    ),
    grpc.StatusCode.UNIMPLEMENTED: (HTTPStatus.NOT_IMPLEMENTED, ErrorCode.NOT_IMPLEMENTED),
}


def _error_info_reason(error: grpc.RpcError) -> str | None:
    """The `ErrorInfo.reason` attached to a gRPC error, if any."""
    status = None
    get_status = getattr(error, "get_grpc_status", None)  # DaprClient's DaprGrpcError
    try:
        status = get_status() if callable(get_status) else rpc_status.from_call(error)
    except (AttributeError, TypeError, ValueError):
        return None
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason or None
    return None


def from_rpc_error(error: grpc.RpcError) -> ApiError:
    code = error.code() if callable(getattr(error, "code", None)) else None
    details = error.details() if callable(getattr(error, "details", None)) else None
    message = str(details or error)
    status, default_code = _GRPC_STATUS.get(
        code,
        (HTTPStatus.BAD_GATEWAY, ErrorCode.SIDECAR_ERROR),
    )
    reason = _error_info_reason(error)
    # A reason the sidecar sends is stable and more precise (WORKFLOW_NOT_TERMINAL rather
    # than a bare FAILED_PRECONDITION); for unavailability, ours says more.
    chosen = reason if reason and status < HTTPStatus.INTERNAL_SERVER_ERROR else default_code
    return ApiError(status, chosen, message)


def _title(code: str, status: int) -> str:
    """`WORKFLOW_NOT_FOUND` -> `Workflow not found`; the HTTP phrase for bare codes."""
    if code in {ErrorCode.INTERNAL, ErrorCode.NOT_FOUND, ErrorCode.METHOD_NOT_ALLOWED}:
        return HTTPStatus(status).phrase
    return code.replace("_", " ").capitalize()


def problem(error: ApiError, instance: str) -> Problem:
    return Problem(
        type=PROBLEM_TYPE_PREFIX + error.code.lower().replace("_", "-"),
        title=_title(error.code, error.status),
        status=error.status,
        detail=error.message,
        instance=instance,
        code=error.code,
        errors=[FieldProblem(**d) for d in error.details] if error.details else None,
        checks=error.checks,
    )


def problem_response(error: ApiError, request: Request) -> JSONResponse:
    body = problem(error, request.url.path).model_dump(exclude_none=True)
    return JSONResponse(
        body, status_code=error.status, headers=error.headers, media_type=PROBLEM_JSON
    )


async def _on_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return problem_response(error, request)


async def _on_rpc_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, grpc.RpcError)
    translated = from_rpc_error(error)
    if translated.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        log.warning(
            "sidecar call failed",
            extra={"path": request.url.path, "code": translated.code, "reason": translated.message},
        )
    return problem_response(translated, request)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    # FastAPI prefixes where the value came from: body / query / path.
    return ".".join(str(part) for part in loc) or "body"


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"location": _location(problem.get("loc", ())), "message": problem.get("msg", "")}
        for problem in error.errors()
    ]
    message = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
    return problem_response(validation_failed(f"invalid request: {message}", problems), request)


_HTTP_CODES: dict[int, ErrorCode] = {
    HTTPStatus.NOT_FOUND: ErrorCode.NOT_FOUND,
    HTTPStatus.METHOD_NOT_ALLOWED: ErrorCode.METHOD_NOT_ALLOWED,
    HTTPStatus.UNAUTHORIZED: ErrorCode.UNAUTHORIZED,
}


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    status, headers = error.status_code, dict(error.headers or {})
    message = str(error.detail) if error.detail else HTTPStatus(status).phrase
    if status == HTTPStatus.BAD_REQUEST:
        # FastAPI's answer to a body that is not JSON: a malformed request like any other.
        return problem_response(validation_failed(f"invalid request: {message}"), request)
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    code = _HTTP_CODES.get(status, HTTPStatus(status).phrase.upper())
    return problem_response(
        ApiError(status, str(code).replace(" ", "_"), message, headers=headers), request
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first
    route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)  # PARTIAL: the path matches, the method not
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _on_not_implemented(request: Request, error: Exception) -> JSONResponse:
    return problem_response(
        ApiError(HTTPStatus.NOT_IMPLEMENTED, ErrorCode.NOT_IMPLEMENTED, str(error)), request
    )


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error", extra={"path": request.url.path})
    return problem_response(
        ApiError(HTTPStatus.INTERNAL_SERVER_ERROR, ErrorCode.INTERNAL, "internal server error"),
        request,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(grpc.RpcError, _on_rpc_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(NotImplementedError, _on_not_implemented)
    app.add_exception_handler(Exception, _on_unexpected)


# The answers any route may give besides its own: the sidecar down or failing, a bug.
SERVER_ERRORS = (500, 502, 503)
# ... and any route behind authentication.
AUTH_ERRORS = (401, 403)


def error_responses(*statuses: int, auth: bool = True) -> dict[int | str, dict[str, Any]]:
    """For the OpenAPI document: the problem answers a route may give (its own `statuses`,
    the authentication ones unless `auth` is False, and the server errors)."""
    every = sorted({*statuses, *(AUTH_ERRORS if auth else ()), *SERVER_ERRORS})
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in every
    }
