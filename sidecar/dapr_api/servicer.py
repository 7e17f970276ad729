"""`dapr.proto.runtime.v1.Dapr`: the subset of daprd's runtime API the apps use.

Publish (single and bulk), streaming subscriptions, state (get, bulk get, save, delete,
bulk delete, transaction), metadata and shutdown.
Every other method answers UNIMPLEMENTED saying so (see `runtime_api_handler`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
from dapr.proto.common.v1 import common_pb2
from dapr.proto.runtime.v1 import dapr_pb2, metadata_pb2, pubsub_pb2, state_pb2
from google.protobuf import empty_pb2, message_factory

from sidecar import tracecontext
from sidecar.errors import SidecarError, invalid_argument, translated
from sidecar.pubsub import streaming
from sidecar.pubsub.service import Entry, PubSubService
from sidecar.state import outbox
from sidecar.state.service import NamedStore, StateService
from sidecar.state.store import EtagMismatch, OutboxMessage, Write

Context = Any
FIRST_WRITE = common_pb2.StateOptions.CONCURRENCY_FIRST_WRITE

IMPLEMENTED = frozenset(
    {
        "PublishEvent",
        "BulkPublishEvent",
        "BulkPublishEventAlpha1",
        "SubscribeTopicEventsAlpha1",
        "GetState",
        "GetBulkState",
        "SaveState",
        "DeleteState",
        "DeleteBulkState",
        "ExecuteStateTransaction",
        "GetMetadata",
        "Shutdown",
    }
)


def _ttl(metadata: Any) -> float | None:
    value = metadata.get("ttlInSeconds")
    if value is None:
        return None
    try:
        ttl = float(value)
    except ValueError:
        raise invalid_argument(f"ttlInSeconds must be a number, got '{value}'") from None
    return None if ttl < 0 else ttl


def _write(item: common_pb2.StateItem, prefixed_key: str, delete: bool) -> Write:
    if not item.key:
        raise invalid_argument("a state key must not be empty", "ERR_MALFORMED_REQUEST")
    return Write(
        key=prefixed_key,
        value=None if delete else item.value,
        etag=item.etag.value if item.HasField("etag") else None,
        first_write=item.options.concurrency == FIRST_WRITE,
        ttl_seconds=_ttl(item.metadata),
    )


# daprd's reason and message prefix per state operation whose ETag check failed.
_ETAG_FAILURES = {
    "save": ("ERR_STATE_SAVE", "failed saving state in state store {store}"),
    "delete": ("ERR_STATE_DELETE", "failed deleting state in state store {store}"),
    "transaction": ("ERR_STATE_TRANSACTION", "error while executing state transaction"),
}


def _etag_aborted(error: EtagMismatch, named: NamedStore, operation: str) -> SidecarError:
    reason, prefix = _ETAG_FAILURES[operation]
    return SidecarError(
        grpc.StatusCode.ABORTED,
        reason,
        f"{prefix.format(store=named.name)}: {error.problem} for key '{named.app_key(error.key)}'",
    )


class DaprRuntimeServicer:
    def __init__(
        self,
        app_id: str,
        pubsub: PubSubService,
        state: StateService,
        metadata: Callable[[], metadata_pb2.GetMetadataResponse],
        shutdown: Callable[[], None],
    ) -> None:
        self.app_id = app_id
        self.pubsub = pubsub
        self.state = state
        self._metadata = metadata
        self._shutdown = shutdown

    @translated
    async def PublishEvent(
        self, request: pubsub_pb2.PublishEventRequest, context: Context
    ) -> empty_pb2.Empty:
        await self.pubsub.publish(
            request.pubsub_name,
            request.topic,
            request.data,
            request.data_content_type,
            dict(request.metadata),
            tracecontext.incoming(context.invocation_metadata()),
        )
        return empty_pb2.Empty()

    @translated
    async def BulkPublishEvent(
        self, request: pubsub_pb2.BulkPublishRequest, context: Context
    ) -> pubsub_pb2.BulkPublishResponse:
        """All entries or none, as daprd over gRPC (a failed entry fails the call). An
        entry's metadata is the request's overlaid with its own, and none when it has no
        metadata of its own (daprd's `PopulateMetadataForBulkPublishEntry` use)."""
        self.pubsub.target(request.pubsub_name, request.topic)
        common = dict(request.metadata)
        seen: set[str] = set()
        for entry in request.entries:
            if not entry.entry_id or entry.entry_id in seen:
                raise invalid_argument(
                    f"error marshaling events to bytes for topic {request.topic} pubsub "
                    f"{request.pubsub_name}. error: entryId is duplicated or not present for "
                    "entry",
                    "ERR_PUBSUB_EVENTS_SER",
                )
            seen.add(entry.entry_id)
        await self.pubsub.publish_many(
            request.pubsub_name,
            request.topic,
            [
                Entry(
                    entry.event,
                    entry.content_type,
                    {**common, **dict(entry.metadata)} if entry.metadata else {},
                )
                for entry in request.entries
            ],
            tracecontext.incoming(context.invocation_metadata()),
        )
        return pubsub_pb2.BulkPublishResponse()

    BulkPublishEventAlpha1 = BulkPublishEvent

    async def SubscribeTopicEventsAlpha1(
        self, requests: AsyncIterator[Any], context: Context
    ) -> AsyncIterator[Any]:
        """A streaming subscription, for as long as the call lasts (`pubsub.streaming`)."""
        async for response in streaming.serve(self.pubsub, requests, context):
            yield response

    @translated
    async def GetState(
        self, request: state_pb2.GetStateRequest, context: Context
    ) -> state_pb2.GetStateResponse:
        named = self.state.get(request.store_name)
        entry = await named.store.read(named.key(request.key))
        if entry is None:
            return state_pb2.GetStateResponse()
        return state_pb2.GetStateResponse(data=entry.value, etag=entry.etag)

    @translated
    async def GetBulkState(
        self, request: state_pb2.GetBulkStateRequest, context: Context
    ) -> state_pb2.GetBulkStateResponse:
        named = self.state.get(request.store_name)
        items = []
        for key in request.keys:
            entry = await named.store.read(named.key(key))
            items.append(
                state_pb2.BulkStateItem(key=key)
                if entry is None
                else state_pb2.BulkStateItem(key=key, data=entry.value, etag=entry.etag)
            )
        return state_pb2.GetBulkStateResponse(items=items)

    @translated
    async def SaveState(
        self, request: state_pb2.SaveStateRequest, context: Context
    ) -> empty_pb2.Empty:
        named = self.state.get(request.store_name)
        await self._apply(
            named, [_write(i, named.key(i.key), delete=False) for i in request.states], "save"
        )
        return empty_pb2.Empty()

    @translated
    async def DeleteState(
        self, request: state_pb2.DeleteStateRequest, context: Context
    ) -> empty_pb2.Empty:
        named = self.state.get(request.store_name)
        item = common_pb2.StateItem(key=request.key, options=request.options)
        if request.HasField("etag"):
            item.etag.CopyFrom(request.etag)
        await self._apply(named, [_write(item, named.key(request.key), delete=True)], "delete")
        return empty_pb2.Empty()

    @translated
    async def DeleteBulkState(
        self, request: state_pb2.DeleteBulkStateRequest, context: Context
    ) -> empty_pb2.Empty:
        named = self.state.get(request.store_name)
        await self._apply(
            named, [_write(i, named.key(i.key), delete=True) for i in request.states], "delete"
        )
        return empty_pb2.Empty()

    @translated
    async def ExecuteStateTransaction(
        self, request: state_pb2.ExecuteStateTransactionRequest, context: Context
    ) -> empty_pb2.Empty:
        named = self.state.get(request.storeName)
        operations = []
        for index, operation in enumerate(request.operations):
            if operation.operationType not in {"upsert", "delete"}:
                raise invalid_argument(
                    f"operations[{index}].operationType: '{operation.operationType}' is not "
                    "supported (upsert, delete)",
                    "ERR_NOT_SUPPORTED_STATE_OPERATION",
                )
            item = operation.request
            write = _write(item, named.key(item.key), delete=operation.operationType == "delete")
            operations.append(outbox.Operation(write, dict(item.metadata)))
        if named.outbox is None:
            await self._apply(named, [op.write for op in operations], "transaction")
            return empty_pb2.Empty()
        try:
            self.pubsub.target(named.outbox.pubsub, named.outbox.topic)
        except SidecarError as error:
            raise SidecarError(
                grpc.StatusCode.INTERNAL,
                "ERR_PUBLISH_OUTBOX",
                f"error while publishing outbox message: {error.message}",
            ) from None
        traceparent = tracecontext.incoming(context.invocation_metadata())
        writes, messages = outbox.plan(operations, named.outbox, self.app_id, traceparent)
        await self._apply(named, writes, "transaction", messages)
        self.state.outbox_written()
        return empty_pb2.Empty()

    @staticmethod
    async def _apply(
        named: NamedStore,
        writes: list[Write],
        operation: str,
        messages: Sequence[OutboxMessage] = (),
    ) -> None:
        try:
            await named.store.write(writes, messages)
        except EtagMismatch as error:
            raise _etag_aborted(error, named, operation) from None

    async def GetMetadata(
        self, request: metadata_pb2.GetMetadataRequest, context: Context
    ) -> metadata_pb2.GetMetadataResponse:
        return self._metadata()

    async def Shutdown(
        self, request: dapr_pb2.ShutdownRequest, context: Context
    ) -> empty_pb2.Empty:
        asyncio.get_running_loop().call_soon(self._shutdown)
        return empty_pb2.Empty()


def runtime_api_handler(servicer: DaprRuntimeServicer) -> grpc.GenericRpcHandler:
    """The Dapr service: the servicer's methods, and a clear UNIMPLEMENTED for the rest.

    Built from the service descriptor rather than the generated `add_DaprServicer_to_server`,
    whose stubs answer a bare "Method not implemented!".
    """
    service = dapr_pb2.DESCRIPTOR.services_by_name["Dapr"]
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in service.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        response_type = message_factory.GetMessageClass(method.output_type)
        behaviour = (
            getattr(servicer, method.name) if method.name in IMPLEMENTED else _refusal(method.name)
        )
        kind = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = kind(
            behaviour,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def _refusal(name: str) -> Callable[..., Any]:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"the embedded Dapr sidecar does not implement {name}; it serves publish, state, "
            "metadata, shutdown and workflows. Run the app under daprd for this API.",
        )

    return refuse
