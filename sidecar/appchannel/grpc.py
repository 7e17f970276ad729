"""The channel to a gRPC app (`--app-protocol grpc`): `AppCallback` on the app port.

The sidecar asks `ListTopicSubscriptions` until the app answers (UNIMPLEMENTED: the app has
no subscriptions), delivers with `OnTopicEvent` and invokes with `OnInvoke`, sending the
app's API token (`APP_API_TOKEN`) as `dapr-api-token` metadata on every call, as daprd.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import grpc
from dapr.proto.common.v1 import common_pb2
from dapr.proto.runtime.v1 import appcallback_pb2, appcallback_pb2_grpc
from google.protobuf import any_pb2, empty_pb2
from google.rpc import status_pb2

from sidecar.dapr_api.auth import TOKEN_HEADER
from sidecar.invocation.messages import Invocation, Pairs, Reply, to_grpc_metadata
from sidecar.pubsub.service import app_subscriptions
from sidecar.resources.definitions import Subscription

_STATUS_DETAILS = "grpc-status-details-bin"
# The channel retries a refused connection within a second, and a call waits that long for
# an app that is just coming up.
_BACKOFF = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]
_RECONNECT_SECONDS = 2.0


class GrpcAppChannel:
    def __init__(self, port: int, token: str | None, interceptors: list[Any] | None = None) -> None:
        self.channel = grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=_BACKOFF, interceptors=interceptors
        )
        self.stub = appcallback_pb2_grpc.AppCallbackStub(self.channel)
        self._token: Pairs = [(TOKEN_HEADER, token)] if token else []

    @property
    def delivery(self) -> Any:
        """What pub/sub delivery calls `OnTopicEvent` on."""
        return self.stub

    async def subscriptions(self) -> list[Subscription]:
        """The app's subscriptions, once it answers (asked again until it does)."""
        delay = 0.02
        while True:
            try:
                response = await self.stub.ListTopicSubscriptions(
                    empty_pb2.Empty(), timeout=5, metadata=tuple(self._token)
                )
                return app_subscriptions(response)
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                    return app_subscriptions(appcallback_pb2.ListTopicSubscriptionsResponse())
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def invoke(self, invocation: Invocation) -> Reply:
        """`OnInvoke`; a failed call is the app's answer (its status), as daprd has it."""
        request = common_pb2.InvokeRequest(
            method=invocation.method,
            data=any_pb2.Any(type_url=invocation.type_url, value=invocation.data),
            content_type=invocation.content_type,
        )
        if invocation.verb:
            request.http_extension.verb = _verb(invocation.verb)
            request.http_extension.querystring = invocation.query
        metadata = tuple(to_grpc_metadata(invocation.metadata, http_conversion=True) + self._token)
        call = self.stub.OnInvoke(request, metadata=metadata)
        try:
            try:
                response = await call
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                # A channel that failed to connect earlier (the app was not up yet) fails
                # calls at once until it reconnects: daprd dials the app for each call.
                call = self.stub.OnInvoke(
                    request, metadata=metadata, wait_for_ready=True, timeout=_RECONNECT_SECONDS
                )
                response = await call
        except grpc.aio.AioRpcError as error:
            return Reply(
                grpc_code=error.code().value[0],
                message=error.details() or "",
                details=_details(error.trailing_metadata()),
                headers=_pairs(error.initial_metadata()),
                trailers=_pairs(error.trailing_metadata()),
            )
        return Reply(
            headers=_pairs(await call.initial_metadata()),
            trailers=_pairs(await call.trailing_metadata()),
            content_type=response.content_type,
            data=response.data.value,
            type_url=response.data.type_url,
        )

    async def close(self) -> None:
        await self.channel.close()


def _verb(name: str) -> Any:
    """daprd's `WithHTTPExtension`: a verb it does not know is POST."""
    try:
        return common_pb2.HTTPExtension.Verb.Value(name.upper())
    except ValueError:
        return common_pb2.HTTPExtension.POST


def _pairs(metadata: Any) -> Pairs:
    """Text metadata only: binary (`-bin`) values are not passed on."""
    return [(str(key), value) for key, value in (metadata or ()) if isinstance(value, str)]


def _details(metadata: Any) -> list[str]:
    """The app's `google.rpc.Status` details, each packed `Any` base64-encoded."""
    for key, value in metadata or ():
        if key == _STATUS_DETAILS and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            return [base64.b64encode(d.SerializeToString()).decode() for d in status.details]
    return []
