"""daprd's metrics for what the embedded sidecar does, under daprd's names and labels, so
the dashboards and alerts written for daprd read the embedded sidecar too.

From dapr/dapr `pkg/diagnostics` (opencensus views exported with the `dapr_` prefix):

- `dapr_component_pubsub_ingress_count`, `..._latencies` (ms): each delivery to the app
  (`OnTopicEvent`); app_id, component, namespace, process_status, status, topic.
- `dapr_component_pubsub_egress_count`, `..._latencies` (ms): each `PublishEvent`; app_id,
  component, namespace, success, topic. `..._egress_bulk_count`, `..._bulk_event_count`,
  `..._bulk_latencies`: each `BulkPublishEvent`, same labels.
- `dapr_component_state_count`, `..._latencies` (ms): each state call; app_id, component,
  namespace, operation, success.
- `dapr_runtime_workflow_operation_count`, `..._latency` (ms): start (`create_workflow`),
  get (`get_workflow`), raise/terminate/suspend/resume (`add_event`), purge
  (`purge_workflow`); app_id, namespace, operation, status.

A daprd count view is a Prometheus counter whose sample carries the view's name, without
`_total`; `prometheus_client` always adds `_total`, so `Counts` keeps those counters and
`exposition` names them as daprd does. Calls are observed at the gRPC boundary (a server
interceptor for the Dapr and workflow APIs, a client interceptor on the app channel), so
the servicers stay free of metrics code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web
from dapr.proto.runtime.v1 import appcallback_pb2
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

# daprd exposes no `_created` series.
disable_created_metrics()

# daprd's default latency distribution (pkg/config, milliseconds).
LATENCY_BUCKETS_MS = (
    1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250,
    300, 400, 500, 650, 800, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000,
)  # fmt: skip
# daprd's state operations (pkg/diagnostics) for the Dapr API methods that call a store.
STATE_OPERATIONS = {
    "GetState": "get",
    "GetBulkState": "bulk_get",
    "SaveState": "set",
    "DeleteState": "delete",
    "DeleteBulkState": "bulk_delete",
    "ExecuteStateTransaction": "transaction",
}
# daprd's workflow operations for the task hub's client methods: raise, terminate, suspend
# and resume all add an event to the instance.
WORKFLOW_OPERATIONS = {
    "StartInstance": "create_workflow",
    "GetInstance": "get_workflow",
    "RaiseEvent": "add_event",
    "TerminateInstance": "add_event",
    "SuspendInstance": "add_event",
    "ResumeInstance": "add_event",
    "PurgeInstances": "purge_workflow",
}
ON_TOPIC_EVENT = "/dapr.proto.runtime.v1.AppCallback/OnTopicEvent"
_TOPIC_STATUS = {
    appcallback_pb2.TopicEventResponse.SUCCESS: "success",
    appcallback_pb2.TopicEventResponse.RETRY: "retry",
    appcallback_pb2.TopicEventResponse.DROP: "drop",
}

Record = Callable[[Any, bool, float], None]


class Counts(Collector):
    """A daprd count view: a counter exposed under its own name (no `_total`)."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *values: str, amount: float = 1) -> None:
        with self._lock:
            self._values[values] = self._values.get(values, 0) + amount

    def collect(self) -> Iterator[Metric]:
        family = Metric(self.name, self.documentation, "counter")
        with self._lock:
            for values, count in sorted(self._values.items()):
                family.add_sample(self.name, dict(zip(self.labels, values, strict=True)), count)
        yield family


_INGRESS = ("app_id", "component", "namespace", "process_status", "status", "topic")
_EGRESS = ("app_id", "component", "namespace", "success", "topic")
_STATE = ("app_id", "component", "namespace", "operation", "success")
_WORKFLOW = ("app_id", "namespace", "operation", "status")


@dataclass(frozen=True)
class Pair:
    """A daprd measurement: its count view and its latency view, with their help texts."""

    count: str
    count_help: str
    latency: str
    latency_help: str
    labels: tuple[str, ...]


PAIRS = {
    "ingress": Pair(
        "dapr_component_pubsub_ingress_count",
        "The number of incoming messages arriving from the pub/sub component.",
        "dapr_component_pubsub_ingress_latencies",
        "The consuming app event processing latency.",
        _INGRESS,
    ),
    "egress": Pair(
        "dapr_component_pubsub_egress_count",
        "The number of outgoing messages published to the pub/sub component.",
        "dapr_component_pubsub_egress_latencies",
        "The latency of the response from the pub/sub component.",
        _EGRESS,
    ),
    "bulk_egress": Pair(
        "dapr_component_pubsub_egress_bulk_count",
        "The number of bulk publish calls to the pub/sub component.",
        "dapr_component_pubsub_egress_bulk_latencies",
        "The latency of the response for the bulk publish call from the pub/sub component.",
        _EGRESS,
    ),
    "state": Pair(
        "dapr_component_state_count",
        "The number of operations performed on the state component.",
        "dapr_component_state_latencies",
        "The latency of the response from the state component.",
        _STATE,
    ),
    "workflow": Pair(
        "dapr_runtime_workflow_operation_count",
        "The number of successful/failed workflow operation requests.",
        "dapr_runtime_workflow_operation_latency",
        "The latencies of responses for workflow operation requests.",
        _WORKFLOW,
    ),
}
BULK_EVENTS = (
    "dapr_component_pubsub_egress_bulk_event_count",
    "The number of outgoing messages to the pub/sub component published through bulk publish API.",
)


class SidecarMetrics:
    """Every metric of one sidecar, in a registry of its own."""

    def __init__(self, app_id: str, namespace: str) -> None:
        self.app_id = app_id
        self.namespace = namespace
        self.registry = CollectorRegistry(auto_describe=True)
        self.counts: dict[str, Counts] = {}
        self.latencies: dict[str, Histogram] = {}
        for key, pair in PAIRS.items():
            self.counts[key] = self._register(Counts(pair.count, pair.count_help, pair.labels))
            self.latencies[key] = Histogram(
                pair.latency,
                pair.latency_help,
                pair.labels,
                registry=self.registry,
                buckets=LATENCY_BUCKETS_MS,
            )
        self.bulk_events = self._register(Counts(*BULK_EVENTS, _EGRESS))

    def _register(self, counts: Counts) -> Counts:
        self.registry.register(counts)
        return counts

    def _observe(self, key: str, values: tuple[str, ...], elapsed_ms: float) -> None:
        self.counts[key].inc(*values)
        self.latencies[key].labels(*values).observe(elapsed_ms)

    # -- what is recorded ---------------------------------------------------------------

    def ingress(self, request: Any, process_status: str, status: str, elapsed_ms: float) -> None:
        """One delivery to the app; `status` is daprd's second status (a DROP answered by
        the app is process_status drop, status success)."""
        values = (self.app_id, request.pubsub_name, self.namespace, process_status, status)
        self._observe("ingress", (*values, request.topic), elapsed_ms)

    def recorder(self, method: str) -> Record | None:
        """How to record a call of the full gRPC `method`, or None when daprd records none."""
        name = method.rpartition("/")[2]
        if name == "PublishEvent":
            return lambda request, ok, ms: self._observe("egress", self._egress(request, ok), ms)
        if name in ("BulkPublishEvent", "BulkPublishEventAlpha1"):
            return self._bulk_egress
        if name in STATE_OPERATIONS:
            operation = STATE_OPERATIONS[name]
            return lambda request, ok, ms: self._observe(
                "state",
                (self.app_id, _store_name(request), self.namespace, operation, _bool(ok)),
                ms,
            )
        if name in WORKFLOW_OPERATIONS and "TaskHubSidecarService" in method:
            operation = WORKFLOW_OPERATIONS[name]
            return lambda request, ok, ms: self._observe(
                "workflow",
                (self.app_id, self.namespace, operation, "success" if ok else "failed"),
                ms,
            )
        return None

    def _egress(self, request: Any, ok: bool) -> tuple[str, ...]:
        return (self.app_id, request.pubsub_name, self.namespace, _bool(ok), request.topic)

    def _bulk_egress(self, request: Any, ok: bool, elapsed_ms: float) -> None:
        self._observe("bulk_egress", self._egress(request, ok), elapsed_ms)
        if ok and request.entries:
            self.bulk_events.inc(*self._egress(request, True), amount=len(request.entries))

    # -- exposition ---------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The text format, with daprd's count metrics under their own names."""
        text = generate_latest(self.registry).decode()
        for counts in [*self.counts.values(), self.bulk_events]:
            text = text.replace(f"# HELP {counts.name}_total ", f"# HELP {counts.name} ")
            text = text.replace(f"# TYPE {counts.name}_total ", f"# TYPE {counts.name} ")
        return text.encode()

    def http_app(self) -> web.Application:
        """`GET /` and `GET /metrics` (daprd serves every path of its metrics port)."""

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(
                body=self.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

        app = web.Application()
        app.router.add_get("/", metrics)
        app.router.add_get("/metrics", metrics)
        return app


def _bool(ok: bool) -> str:
    return "true" if ok else "false"


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class ServerMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Times the Dapr and workflow API calls daprd has metrics for."""

    def __init__(self, metrics: SidecarMetrics) -> None:
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        record = self.metrics.recorder(details.method)
        if handler is None or record is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def measured(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            try:
                response = await inner(request, context)
            except BaseException:
                record(request, False, _elapsed_ms(started))
                raise
            code = context.code()
            record(request, code in (None, grpc.StatusCode.OK), _elapsed_ms(started))
            return response

        return grpc.unary_unary_rpc_method_handler(
            measured,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class IngressMetricsInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Times each `OnTopicEvent` delivery to the app and records how the app answered, as
    daprd does: SUCCESS, RETRY or DROP; an error is a retry, UNIMPLEMENTED a drop."""

    def __init__(self, metrics: SidecarMetrics) -> None:
        self.metrics = metrics

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        method = client_call_details.method
        if (method.decode() if isinstance(method, bytes) else method) != ON_TOPIC_EVENT:
            return await continuation(client_call_details, request)
        started = time.perf_counter()
        call = await continuation(client_call_details, request)
        try:
            response = await call
        except grpc.aio.AioRpcError as error:
            status = "drop" if error.code() == grpc.StatusCode.UNIMPLEMENTED else "retry"
            self.metrics.ingress(request, status, status, _elapsed_ms(started))
            raise
        status = _TOPIC_STATUS.get(response.status, "retry")
        self.metrics.ingress(
            request, status, "success" if status == "drop" else status, _elapsed_ms(started)
        )
        return call


def _store_name(request: Any) -> str:
    """The state store a request names: the transaction request spells the field
    `storeName`, every other state request `store_name`."""
    if hasattr(request, "storeName"):
        return str(request.storeName)
    return str(request.store_name)
