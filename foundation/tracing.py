"""OpenTelemetry traces for the platform's apps, set up from the standard `OTEL_*` variables.

Every app calls `configure(app_id)` once at start. The trace context travels the way daprd
carries it: as gRPC metadata on the calls an app makes to its sidecar (the gRPC client
instrumentation adds `traceparent` to each call made inside a span), from there into the
CloudEvent of a publish and into a workflow's history. So the apps need no field of their
own in the messages.

- `OTEL_SDK_DISABLED=true`: no span is recorded; incoming trace context is still handed on.
- `OTEL_SERVICE_NAME`: the spans' service name (default: the app id).
- `OTEL_TRACES_EXPORTER`: `otlp`, `console`, `none`, comma-separated (default: `otlp` when
  `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, else none).
- `OTEL_EXPORTER_OTLP_PROTOCOL` (or `..._TRACES_PROTOCOL`): `http/protobuf` (default), `grpc`;
  the OTLP exporters read the other `OTEL_EXPORTER_OTLP_*` variables themselves.
- `OTEL_TRACES_SAMPLER`: unset, `JoinedCallsSampler`; `parentbased_traceidratio` (with
  `OTEL_TRACES_SAMPLER_ARG`), the same keeping that ratio of the traces; any other, the SDK's.
- `TRACE_STORE`: a SQLite file that keeps every span locally (`foundation.span_store`), so
  `sagactl workflow trace` shows a saga with no collector running.

The default exporter differs from the SDK's (which exports to `localhost:4318` whatever
happens): with no collector configured nothing is sent anywhere, so `make run` prints no
export errors; it keeps the spans in `TRACE_STORE` instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

from foundation.settings import SettingsError
from foundation.span_store import SpanStoreExporter

log = logging.getLogger("foundation.tracing")

# The workflow worker's own calls: the work-item stream and the completions it sends back.
# Each one inside an activity's span would only add a span per activity saying so.
WORKER_METHODS = frozenset(
    {
        "GetWorkItems",
        "CompleteActivityTask",
        "CompleteOrchestratorTask",
        "AbandonTaskActivityWorkItem",
        "AbandonTaskOrchestratorWorkItem",
    }
)
# How often the local store receives the spans: soon enough for `sagactl workflow trace`
# right after an order finished.
STORE_DELAY_MS = 500


class JoinedCallsSampler(Sampler):
    """Parent-based, except for gRPC calls that no trace asked for: an app's calls to its
    sidecar made outside any span (the workflow worker polling for work, the API's
    gauges) would each start a trace of one span, and the worker's completions would add
    one span to every activity. A root span of anything else is sampled as `root` says
    (every one by default)."""

    def __init__(self, root: Sampler = ALWAYS_ON) -> None:
        self._parent_based = ParentBased(root)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind == SpanKind.CLIENT and (attributes or {}).get("rpc.system") == "grpc":
            parent = trace.get_current_span(parent_context).get_span_context()
            if not parent.is_valid or (attributes or {}).get("rpc.method") in WORKER_METHODS:
                return SamplingResult(Decision.DROP)
        return self._parent_based.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "JoinedCallsSampler"


def configure(app_id: str) -> None:
    """The process's tracer provider and exporters from the environment, and the gRPC
    client instrumentation. With the SDK disabled, or nothing to send spans to, no span is
    recorded, but the context of an incoming message still reaches the sidecar unchanged,
    as daprd hands it on with no exporter."""
    env = os.environ
    GrpcInstrumentorClient().instrument()
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        log.info("tracing disabled (OTEL_SDK_DISABLED)")
        return
    exporters = exporters_from(env)
    store = env.get("TRACE_STORE")
    if not exporters and not store:
        log.info("no trace exporter and no TRACE_STORE: spans are not recorded")
        return
    resource = Resource.create({} if env.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: app_id})
    sampler = sampler_from(env)
    provider = TracerProvider(resource=resource, sampler=sampler)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if store:
        provider.add_span_processor(
            BatchSpanProcessor(SpanStoreExporter(store), schedule_delay_millis=STORE_DELAY_MS)
        )
    trace.set_tracer_provider(provider)
    log.info(
        "tracing configured",
        extra={
            "exporters": [type(exporter).__name__ for exporter in exporters],
            "trace_store": store or None,
        },
    )


def sampler_from(env: Mapping[str, str]) -> Sampler | None:
    """`JoinedCallsSampler`, keeping a ratio of the traces with
    `OTEL_TRACES_SAMPLER=parentbased_traceidratio` (`OTEL_TRACES_SAMPLER_ARG`); None for
    another sampler the variable names, which the SDK then reads itself."""
    name = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if not name:
        return JoinedCallsSampler()
    if name != "parentbased_traceidratio":
        return None
    try:
        ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG") or 1.0)
    except ValueError:
        raise SettingsError("OTEL_TRACES_SAMPLER_ARG: not a number") from None
    if not 0.0 <= ratio <= 1.0:
        raise SettingsError("OTEL_TRACES_SAMPLER_ARG: not between 0 and 1")
    return JoinedCallsSampler(TraceIdRatioBased(ratio))


def exporters_from(env: Mapping[str, str]) -> list[SpanExporter]:
    """The exporters `OTEL_TRACES_EXPORTER` names; a name or protocol the platform does not
    know is refused (`SettingsError`), never ignored."""
    endpoint_set = bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    names = env.get("OTEL_TRACES_EXPORTER") or ("otlp" if endpoint_set else "none")
    exporters: list[SpanExporter] = []
    for name in (part.strip().lower() for part in names.split(",")):
        if name == "otlp":
            exporters.append(_otlp_exporter(env))
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name not in ("none", ""):
            raise SettingsError(f"OTEL_TRACES_EXPORTER: unsupported exporter '{name}'")
    return exporters


def _otlp_exporter(env: Mapping[str, str]) -> SpanExporter:
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol == "http/protobuf":
        return HttpSpanExporter()
    if protocol == "grpc":
        return GrpcSpanExporter()
    raise SettingsError(f"OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol '{protocol}'")
