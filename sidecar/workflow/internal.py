"""The internal gRPC endpoint, where the sidecars of other apps reach this one (daprd's
`--dapr-internal-grpc-port`): the workflow API, for operations a client routed to this app,
and `Deliver`, for the messages of cross-app workflows. It takes no API token, like daprd's
internal port; it listens on the sidecar's listen address (loopback unless told otherwise),
on the given port or one the system picks, and is announced through name resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import empty_pb2

from sidecar.errors import translated
from sidecar.workflow.inbound import Inbound
from sidecar.workflow.peers import DELIVER, Peers
from sidecar.workflow.protos import backend, pb_grpc
from sidecar.workflow.servicer import TaskHubServicer

_WILDCARDS = frozenset({"0.0.0.0", "::", "[::]", ""})


class _PeerService:
    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound

    @translated
    async def deliver(self, request: backend.WorkflowMessage, context: Any) -> empty_pb2.Empty:
        self.inbound.deliver(request)
        return empty_pb2.Empty()


class InternalEndpoint:
    def __init__(
        self,
        servicer: TaskHubServicer,
        inbound: Inbound,
        peers: Peers,
        host: str,
        port: int,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._peers = peers
        self._host = host
        self._port = port
        self._server = grpc.aio.server(options=list(options))
        pb_grpc.add_TaskHubSidecarServiceServicer_to_server(servicer, self._server)
        service, method = DELIVER.strip("/").split("/")
        handler = grpc.unary_unary_rpc_method_handler(
            _PeerService(inbound).deliver,
            request_deserializer=backend.WorkflowMessage.FromString,
            response_serializer=empty_pb2.Empty.SerializeToString,
        )
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, {method: handler}),)
        )

    def add_generic_rpc_handlers(self, *handlers: grpc.GenericRpcHandler) -> None:
        """Serves other sidecar-to-sidecar services here too (service invocation)."""
        self._server.add_generic_rpc_handlers(handlers)

    async def start(self) -> int:
        """Listens, announces itself, and returns the port."""
        port = self._server.add_insecure_port(f"{self._host}:{self._port}")
        if port == 0:
            raise OSError(f"cannot listen on {self._host}:{self._port}")
        await self._server.start()
        host = "127.0.0.1" if self._host in _WILDCARDS else self._host
        self._peers.register(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        return int(port)

    async def stop(self) -> None:
        self._peers.unregister()
        await self._server.stop(grace=2)
