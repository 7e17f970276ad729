"""Routes an invocation to its app, as daprd's `directMessaging` does: its own app through the
app channel, another app through that app's sidecar.

Another app's sidecar is found through name resolution (`sidecar.workflow.peers`, the file
every sidecar sharing the data folder registers in) and called on its internal gRPC port
(`CALL_LOCAL`), which hands the invocation to its app. On the way out the caller adds
daprd's headers: `dapr-caller-app-id`, `dapr-caller-namespace`, `dapr-callee-app-id`,
`X-Forwarded-For`, `X-Forwarded-Host` and `Forwarded`. An app id may name a namespace
(`app.namespace`), as daprd allows; the sidecars here all share one.
"""

from __future__ import annotations

import asyncio
import socket
from functools import cache
from typing import Any, Protocol

import grpc

from sidecar.invocation.messages import (
    CALLEE_APP,
    CALLER_APP,
    CALLER_NAMESPACE,
    Invocation,
    InvocationError,
    Reply,
    go_status,
)
from sidecar.workflow.peers import Peers, PeerUnavailable

CALL_LOCAL = "/sidecar.invocation.v1.ServiceInvocation/CallLocal"
_RETRIED = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED})
# daprd's built-in service invocation retries: 3 more, a second apart, when the other
# sidecar is unavailable.
_ATTEMPTS = 4
_RETRY_SECONDS = 1.0


class AppChannel(Protocol):
    async def invoke(self, invocation: Invocation) -> Reply: ...


def _identity(raw: bytes) -> bytes:
    return raw


class Invoker:
    def __init__(self, app_id: str, namespace: str, peers: Peers) -> None:
        self.app_id = app_id
        self.namespace = namespace
        self.peers = peers
        self.app: AppChannel | None = None

    async def invoke(self, target: str, invocation: Invocation) -> Reply:
        """The target app's reply; raises `InvocationError` when no app answered."""
        app_id, namespace = self._parse(target)
        if app_id == self.app_id and namespace == self.namespace:
            return await self.call_local(invocation)
        self._add_forwarding(invocation, app_id)
        last: Exception | None = None
        for attempt in range(_ATTEMPTS):
            if attempt:
                await asyncio.sleep(_RETRY_SECONDS)
            try:
                channel = self.peers.channel(app_id)
            except PeerUnavailable as error:
                raise InvocationError(str(error)) from error
            call: Any = channel.unary_unary(
                CALL_LOCAL, request_serializer=_identity, response_deserializer=_identity
            )
            try:
                return Reply.from_json(await call(invocation.to_json()))
            except grpc.aio.AioRpcError as error:
                if error.code() not in _RETRIED:
                    raise InvocationError(_rpc_error(error), error.code()) from error
                last = InvocationError(
                    f"failed to invoke target {app_id} after {attempt} retries. "
                    f"Error: {_rpc_error(error)}",
                    error.code(),
                )
        assert last is not None
        raise last

    async def call_local(self, invocation: Invocation) -> Reply:
        """The invocation handed to this sidecar's own app."""
        if self.app is None:
            raise InvocationError("cannot invoke local endpoint: app channel not initialized")
        return await self.app.invoke(invocation)

    def _parse(self, target: str) -> tuple[str, str]:
        parts = target.split(".")
        if len(parts) == 1:
            return target, self.namespace
        if len(parts) == 2:
            return parts[0], parts[1]
        raise InvocationError(f"invalid app id {target}", grpc.StatusCode.INVALID_ARGUMENT)

    def _add_forwarding(self, invocation: Invocation, callee: str) -> None:
        """daprd's headers for a call to another app's sidecar."""
        ids = {CALLER_NAMESPACE: self.namespace, CALLER_APP: self.app_id, CALLEE_APP: callee}
        kept = [(k, v) for k, v in invocation.metadata if k.lower() not in ids]
        address, host = host_address(), socket.gethostname()
        forwarded = f"for={address};by={address};host={host}"
        invocation.metadata = [
            *kept,
            ("X-Forwarded-For", address),
            ("X-Forwarded-Host", host),
            ("Forwarded", forwarded),
            *ids.items(),
        ]


class CallLocalService:
    """The internal port's side: an invocation from another app's sidecar, for this app."""

    def __init__(self, invoker: Invoker) -> None:
        self.invoker = invoker

    async def call_local(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        if self.invoker.app is None:
            await context.abort(grpc.StatusCode.INTERNAL, "app channel is not initialized")
        try:
            reply = await self.invoker.call_local(Invocation.from_json(raw))
        except InvocationError as error:
            await context.abort(grpc.StatusCode.INTERNAL, f"error invoking app channel: {error}")
        return reply.to_json()

    def handler(self) -> grpc.GenericRpcHandler:
        service, method = CALL_LOCAL.strip("/").split("/")
        return grpc.method_handlers_generic_handler(
            service,
            {
                method: grpc.unary_unary_rpc_method_handler(
                    self.call_local, request_deserializer=_identity, response_serializer=_identity
                )
            },
        )


def _rpc_error(error: grpc.aio.AioRpcError) -> str:
    return go_status(error.code().name, error.details() or "")


@cache
def host_address() -> str:
    """This host's outward address, as daprd finds it (`utils.GetHostAddress`): the source
    address of a route to the internet, else the host name's address."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("8.8.8.8", 80))  # no packet is sent: UDP only picks a route
            return str(probe.getsockname()[0])
        except OSError:
            pass
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
