"""API token enforcement, as daprd does it when `DAPR_API_TOKEN` is set.

Every gRPC call must carry the token in its `dapr-api-token` metadata, or it is refused
with UNAUTHENTICATED before it reaches a servicer.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

TOKEN_HEADER = "dapr-api-token"
_MESSAGE = "missing or invalid dapr-api-token metadata: this sidecar requires its API token"


def token_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class ApiTokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        metadata = dict(details.invocation_metadata or ())
        if handler is None or token_matches(self._token, metadata.get(TOKEN_HEADER)):
            return handler
        return _refusing(handler)


def _refusing(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, _MESSAGE)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, _MESSAGE)
        yield  # pragma: no cover - makes this an async generator, as stream handlers are

    options = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(refuse, **options)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, **options)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(refuse, **options)
    return grpc.stream_stream_rpc_method_handler(refuse_stream, **options)
