"""Every error the management API answers with: one JSON shape, a stable code, an HTTP status.

`{"error": {"code": "WORKFLOW_NOT_FOUND", "message": "..."}}`. Clients (the CLI, the
operator) branch on `code`, never on the message. The sidecar's gRPC errors are translated
here, in one place: the gRPC status code picks the HTTP status, and the `ErrorInfo` reason
daprd (and the embedded sidecar) attach, when present, becomes the code.
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
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    SIDECAR_UNAVAILABLE = "SIDECAR_UNAVAILABLE"
    SIDECAR_ERROR = "SIDECAR_ERROR"
    INTERNAL = "INTERNAL"


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """The body of every non-2xx answer."""

    error: ErrorDetail


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
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = str(code)
        self.message = message
        self.headers = headers
        self.details = details


def not_found(code: ErrorCode, message: str) -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, code, message)


def conflict(code: ErrorCode | str, message: str) -> ApiError:
    return ApiError(HTTPStatus.CONFLICT, code, message)


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


def _body(error: ApiError) -> dict[str, Any]:
    detail = ErrorDetail(code=error.code, message=error.message, details=error.details)
    return {"error": detail.model_dump(exclude_none=True)}


def _respond(error: ApiError) -> JSONResponse:
    return JSONResponse(_body(error), status_code=error.status, headers=error.headers)


async def _on_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return _respond(error)


async def _on_rpc_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, grpc.RpcError)
    translated = from_rpc_error(error)
    if translated.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        log.warning(
            "sidecar call failed",
            extra={"path": request.url.path, "code": translated.code, "reason": translated.message},
        )
    return _respond(translated)


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
    return _respond(validation_failed(f"invalid request: {message}", problems))


_HTTP_CODES: dict[int, ErrorCode] = {
    HTTPStatus.NOT_FOUND: ErrorCode.NOT_FOUND,
    HTTPStatus.METHOD_NOT_ALLOWED: ErrorCode.METHOD_NOT_ALLOWED,
    HTTPStatus.UNAUTHORIZED: ErrorCode.UNAUTHORIZED,
}


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = _HTTP_CODES.get(error.status_code, HTTPStatus(error.status_code).phrase.upper())
    message = str(error.detail) if error.detail else HTTPStatus(error.status_code).phrase
    return _respond(
        ApiError(error.status_code, str(code).replace(" ", "_"), message, headers=error.headers)
    )


async def _on_not_implemented(request: Request, error: Exception) -> JSONResponse:
    return _respond(ApiError(HTTPStatus.NOT_IMPLEMENTED, ErrorCode.NOT_IMPLEMENTED, str(error)))


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error", extra={"path": request.url.path})
    return _respond(
        ApiError(HTTPStatus.INTERNAL_SERVER_ERROR, ErrorCode.INTERNAL, "internal server error")
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(grpc.RpcError, _on_rpc_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(NotImplementedError, _on_not_implemented)
    app.add_exception_handler(Exception, _on_unexpected)


# For the OpenAPI document: which error answers a route may give.
def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ErrorResponse, "description": HTTPStatus(status).phrase}
        for status in statuses
    }
