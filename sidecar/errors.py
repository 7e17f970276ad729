"""Errors the sidecar answers with: a gRPC code, a stable reason and a readable message.

The reason travels as a `google.rpc.ErrorInfo` detail (domain `dapr.io`), as daprd sends
its error codes, so clients can branch on it without parsing messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from foundation.sqlite import StorageFull

T = TypeVar("T")


class SidecarError(Exception):
    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def to_status(self) -> grpc.Status:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain="dapr.io"))
        code_value = getattr(code_pb2, self.code.name)
        status = status_pb2.Status(code=code_value, message=self.message, details=[detail])
        return rpc_status.to_status(status)


def workflow_not_found(instance_id: str) -> SidecarError:
    # daprd's wording: the Python SDK recognises "no such instance exists" in the details.
    return SidecarError(
        grpc.StatusCode.NOT_FOUND,
        "WORKFLOW_NOT_FOUND",
        f"no such instance exists: workflow instance '{instance_id}' was not found",
    )


def invalid_argument(message: str, reason: str = "INVALID_ARGUMENT") -> SidecarError:
    return SidecarError(grpc.StatusCode.INVALID_ARGUMENT, reason, message)


def lookup_component(registry: Mapping[str, T], name: str, kind: str, code: str) -> T:
    """The component `name` of a kind (`pubsub`, `state store`), or daprd's errors for a
    kind with no component (ERR_<CODE>_NOT_CONFIGURED) and an unknown name (_NOT_FOUND)."""
    if not registry:
        raise SidecarError(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"ERR_{code}_NOT_CONFIGURED",
            f"no {kind} is configured: add a {kind.split()[0]} component to the resources path",
        )
    component = registry.get(name)
    if component is None:
        raise invalid_argument(
            f"{kind} {name} is not found (configured: {', '.join(sorted(registry))})",
            f"ERR_{code}_NOT_FOUND",
        )
    return component


def failed_precondition(message: str, reason: str) -> SidecarError:
    return SidecarError(grpc.StatusCode.FAILED_PRECONDITION, reason, message)


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: SidecarError) -> NoReturn:
    await context.abort_with_status(error.to_status())
    raise AssertionError("abort_with_status returned")  # pragma: no cover


def storage_full(error: StorageFull) -> SidecarError:
    """A write refused for lack of disk: nothing of it was written, the caller may retry."""
    return SidecarError(grpc.StatusCode.RESOURCE_EXHAUSTED, "ERR_STORAGE_FULL", str(error))


def translated(
    method: Callable[..., Awaitable[T]],
) -> Callable[..., Awaitable[T]]:
    """Turns a `SidecarError` (or a full disk) raised by a unary servicer method into its
    gRPC status."""

    @wraps(method)
    async def wrapper(self: Any, request: Any, context: Any) -> T:
        try:
            return await method(self, request, context)
        except SidecarError as error:
            await abort(context, error)
        except StorageFull as error:
            await abort(context, storage_full(error))

    return wrapper
