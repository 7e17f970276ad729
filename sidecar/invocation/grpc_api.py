"""`Dapr/InvokeService` on the gRPC API (daprd's `InvokeService`, which the Python SDK's
gRPC `invoke_method` calls).

The caller's metadata travels to the app (without its API token). A gRPC app's answer
comes back as it is: data, headers, trailers, and its status as the call's status. An HTTP
app's answer comes back with its headers as metadata and `dapr-http-status`; a status
outside 2xx fails the call with the gRPC code daprd maps it to, its reason phrase, and an
`ErrorInfo` holding the status and the start of the body. An invocation that reaches no
app fails with INTERNAL, `failed to invoke, id: <app-id>, err: ...`.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import grpc
from dapr.proto.common.v1 import common_pb2
from dapr.proto.runtime.v1 import dapr_pb2, invoke_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from sidecar.dapr_api.auth import TOKEN_HEADER
from sidecar.invocation.messages import (
    HTTP_STATUS,
    Invocation,
    InvocationError,
    Pairs,
    Reply,
    grpc_code_of,
    status_text,
    to_grpc_metadata,
)
from sidecar.invocation.router import Invoker

SERVICE = "dapr.proto.runtime.v1.Dapr"
_KEY = re.compile(r"^[0-9a-z_.-]+$")
_MAX_DETAIL = 63  # daprd's cut of the body it puts in the ErrorInfo


class InvokeServiceHandler:
    def __init__(self, invoker: Invoker) -> None:
        self.invoker = invoker

    async def invoke_service(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.InvokeResponse:
        message = request.message
        invocation = Invocation(
            method=message.method,
            verb=common_pb2.HTTPExtension.Verb.Name(message.http_extension.verb)
            if message.HasField("http_extension")
            else "",
            query=message.http_extension.querystring,
            data=message.data.value,
            content_type=message.content_type,
            type_url=message.data.type_url,
            metadata=[
                (key, value)
                for key, value in context.invocation_metadata() or ()
                if isinstance(value, str) and key != TOKEN_HEADER and not key.startswith(":")
            ],
        )
        try:
            reply = await self.invoker.invoke(request.id, invocation)
        except InvocationError as failure:
            await context.abort(
                grpc.StatusCode.INTERNAL, f"failed to invoke, id: {request.id}, err: {failure}"
            )
        response = common_pb2.InvokeResponse(
            data=any_pb2.Any(type_url=reply.type_url, value=reply.data),
            content_type=reply.content_type,
        )
        if reply.is_http:
            status = reply.http_status or 200
            headers = to_grpc_metadata(reply.headers, http_conversion=True)
            await context.send_initial_metadata(_valid([*headers, (HTTP_STATUS, str(status))]))
            if grpc_code_of(status) != grpc.StatusCode.OK:
                await context.abort_with_status(_http_failure(status, reply.data))
            return response
        await context.send_initial_metadata(_valid(to_grpc_metadata(reply.headers, True)))
        context.set_trailing_metadata(_valid(to_grpc_metadata(reply.trailers, False)))
        if reply.grpc_code != 0:
            await context.abort_with_status(_app_failure(reply))
        return response

    def handler(self) -> grpc.GenericRpcHandler:
        """Only `InvokeService`: placed before the runtime API's handler, it takes that
        method and leaves the others to it."""
        method = dapr_pb2.DESCRIPTOR.services_by_name["Dapr"].methods_by_name["InvokeService"]
        assert method.input_type.name == invoke_pb2.InvokeServiceRequest.DESCRIPTOR.name
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "InvokeService": grpc.unary_unary_rpc_method_handler(
                    self.invoke_service,
                    request_deserializer=invoke_pb2.InvokeServiceRequest.FromString,
                    response_serializer=common_pb2.InvokeResponse.SerializeToString,
                )
            },
        )


def _valid(metadata: Pairs) -> Pairs:
    """What gRPC can carry as metadata: lower-case names, printable ASCII values."""
    return [
        (key, value)
        for key, value in metadata
        if _KEY.match(key)
        and not key.startswith("grpc-")
        and value.isascii()
        and value.isprintable()
    ]


def _http_failure(status: int, body: bytes) -> grpc.Status:
    """daprd's `ErrorFromHTTPResponseCode`."""
    text = status_text(status)
    info = error_details_pb2.ErrorInfo(
        reason=text,
        domain="dapr.io",
        metadata={
            "http.code": str(status),
            "http.error_message": body.decode("utf-8", errors="replace")[:_MAX_DETAIL],
        },
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    code = grpc_code_of(status)
    return rpc_status.to_status(
        status_pb2.Status(code=getattr(code_pb2, code.name), message=text, details=[detail])
    )


def _app_failure(reply: Reply) -> grpc.Status:
    """The gRPC app's own status, details included."""
    details = [any_pb2.Any.FromString(base64.b64decode(d)) for d in reply.details]
    return rpc_status.to_status(
        status_pb2.Status(code=reply.grpc_code, message=reply.message, details=details)
    )
