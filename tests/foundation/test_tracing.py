"""The apps' trace set-up from the `OTEL_*` variables, the sampler that keeps a sidecar's
plumbing calls out of the traces, and the local span store."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind

from foundation.settings import SettingsError
from foundation.span_store import SpanStoreExporter, saga_traces
from foundation.tracing import JoinedCallsSampler, exporters_from, sampler_from

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


def test_no_collector_configured_exports_nowhere_and_an_endpoint_exports_otlp() -> None:
    assert exporters_from({}) == []
    [http] = exporters_from(ENDPOINT)
    [grpc] = exporters_from({**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    [traces_grpc] = exporters_from(
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "x:4317",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
        }
    )
    console, otlp = exporters_from({"OTEL_TRACES_EXPORTER": "console, otlp"})

    assert isinstance(http, HttpSpanExporter)
    assert isinstance(grpc, GrpcSpanExporter)
    assert isinstance(traces_grpc, GrpcSpanExporter)
    assert (type(console), type(otlp)) == (ConsoleSpanExporter, HttpSpanExporter)
    assert exporters_from({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}) == []


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ],
)
def test_an_exporter_or_protocol_the_platform_lacks_is_refused(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        exporters_from(env)


def _decision(kind: SpanKind, attributes: dict[str, str], parent: bool) -> Decision:
    context = None
    if parent:
        span = TracerProvider().get_tracer("t").start_span("parent")
        context = trace.set_span_in_context(span)
    result = JoinedCallsSampler().should_sample(context, 1, "call", kind, attributes)
    return result.decision


def test_grpc_calls_outside_a_trace_and_the_workers_own_calls_are_not_sampled() -> None:
    publish = {"rpc.system": "grpc", "rpc.method": "PublishEvent"}
    completion = {"rpc.system": "grpc", "rpc.method": "CompleteActivityTask"}

    assert _decision(SpanKind.CLIENT, publish, parent=False) == Decision.DROP
    assert _decision(SpanKind.CLIENT, publish, parent=True) == Decision.RECORD_AND_SAMPLE
    assert _decision(SpanKind.CLIENT, completion, parent=True) == Decision.DROP
    assert _decision(SpanKind.SERVER, {}, parent=False) == Decision.RECORD_AND_SAMPLE
    assert _decision(SpanKind.CONSUMER, {}, parent=False) == Decision.RECORD_AND_SAMPLE


def test_a_ratio_samples_whole_sagas_and_still_drops_the_plumbing() -> None:
    ratio = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    none_kept = sampler_from(ratio)
    assert isinstance(none_kept, JoinedCallsSampler)
    assert isinstance(sampler_from({}), JoinedCallsSampler)
    assert sampler_from({"OTEL_TRACES_SAMPLER": "always_on"}) is None  # the SDK's own
    root = none_kept.should_sample(None, 1, "POST /v1/orders", SpanKind.SERVER)
    assert root.decision == Decision.DROP
    with pytest.raises(SettingsError, match="OTEL_TRACES_SAMPLER_ARG"):
        sampler_from({**ratio, "OTEL_TRACES_SAMPLER_ARG": "half"})


def test_the_span_store_returns_every_span_of_the_traces_that_touched_a_saga(
    tmp_path: Path,
) -> None:
    store = tmp_path / "traces.sqlite"
    providers = {
        service: TracerProvider(resource=Resource.create({"service.name": service}))
        for service in ("orchestrator", "inventory")
    }
    for provider in providers.values():
        provider.add_span_processor(SimpleSpanProcessor(SpanStoreExporter(store)))
    api = providers["orchestrator"].get_tracer("t")
    inventory = providers["inventory"].get_tracer("t")
    with (
        api.start_as_current_span("POST /v1/orders") as root,
        api.start_as_current_span("saga step reserve", attributes={"saga.id": "order-1"}),
        inventory.start_as_current_span("inventory-commands process"),
    ):
        pass
    with api.start_as_current_span("POST /v1/orders", attributes={"saga.id": "order-2"}):
        pass
    for provider in providers.values():
        provider.shutdown()

    spans = saga_traces(store, "order-1")

    assert [(s.name, s.service) for s in spans] == [
        ("POST /v1/orders", "orchestrator"),
        ("saga step reserve", "orchestrator"),
        ("inventory-commands process", "inventory"),
    ]
    assert {s.trace_id for s in spans} == {format(root.get_span_context().trace_id, "032x")}
    assert spans[0].parent_span_id is None
    assert spans[2].parent_span_id == spans[1].span_id
    assert spans[1].attributes == {"saga.id": "order-1"}
    assert saga_traces(store, "order-3") == []
    assert saga_traces(tmp_path / "none.sqlite", "order-1") == []
