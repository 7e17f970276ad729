"""The translation of the sidecar's gRPC errors into the API's status codes and error codes."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from services.orchestrator.api.errors import from_rpc_error


class SidecarRpcError(grpc.RpcError):
    """A gRPC error as a stub raises it: code, details and the rich status in the trailers."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str | None = None) -> None:
        self._code = code
        self._message = message
        self._trailers: tuple[tuple[str, Any], ...] = ()
        if reason is not None:
            detail = any_pb2.Any()
            detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="dapr.io"))
            status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
            self._trailers = (("grpc-status-details-bin", status.SerializeToString()),)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> tuple[tuple[str, Any], ...]:
        return self._trailers


def test_the_error_info_reason_becomes_the_code() -> None:
    error = from_rpc_error(
        SidecarRpcError(
            grpc.StatusCode.FAILED_PRECONDITION, "still running", "WORKFLOW_NOT_TERMINAL"
        )
    )

    assert (error.status, error.code, error.message) == (
        409,
        "WORKFLOW_NOT_TERMINAL",
        "still running",
    )


def test_without_a_reason_the_grpc_code_picks_status_and_code() -> None:
    cases = {
        grpc.StatusCode.NOT_FOUND: (404, "WORKFLOW_NOT_FOUND"),
        grpc.StatusCode.ALREADY_EXISTS: (409, "WORKFLOW_ALREADY_EXISTS"),
        grpc.StatusCode.INVALID_ARGUMENT: (400, "INVALID_ARGUMENT"),
        grpc.StatusCode.RESOURCE_EXHAUSTED: (413, "PAYLOAD_TOO_LARGE"),
        grpc.StatusCode.UNAVAILABLE: (503, "SIDECAR_UNAVAILABLE"),
        grpc.StatusCode.UNIMPLEMENTED: (501, "NOT_IMPLEMENTED"),
        grpc.StatusCode.INTERNAL: (502, "SIDECAR_ERROR"),
    }
    for code, expected in cases.items():
        error = from_rpc_error(SidecarRpcError(code, "boom"))
        assert (error.status, error.code) == expected, code


def test_an_unavailable_sidecar_keeps_the_api_code_whatever_the_reason() -> None:
    error = from_rpc_error(SidecarRpcError(grpc.StatusCode.UNAVAILABLE, "down", "SOMETHING"))

    assert (error.status, error.code) == (503, "SIDECAR_UNAVAILABLE")
