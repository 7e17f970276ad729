"""The spans around messages: a delivery continues the CloudEvent's trace, recorded or not."""

from __future__ import annotations

import pytest
from dapr.ext.grpc import SubscriptionMessage
from dapr.proto.runtime.v1.appcallback_pb2 import TopicEventRequest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import spans

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


def _delivery(traceparent: str | None) -> SubscriptionMessage:
    request = TopicEventRequest(id="e-1", topic="inventory-commands", type="inventory.reserve")
    if traceparent:
        request.extensions.update({"traceparent": traceparent})
    return SubscriptionMessage(request)


def _current() -> tuple[str, str]:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def test_without_a_tracer_provider_the_delivery_hands_the_events_context_on() -> None:
    with spans.consuming(_delivery(f"00-{TRACE_ID}-{PARENT}-01")):
        assert _current() == (TRACE_ID, PARENT)  # what a publish inside carries on
    with spans.consuming(_delivery(None)):
        assert not trace.get_current_span().get_span_context().is_valid


def test_a_recorded_delivery_is_a_child_of_the_events_span(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    # The process's provider can be set once; this test's spans go to its own instead.
    monkeypatch.setattr(spans, "_tracer", provider.get_tracer("test"))

    with spans.consuming(_delivery(f"00-{TRACE_ID}-{PARENT}-01")):
        spans.tag_saga("order-1", "1")
        with spans.saga_span("step", "reserve", "order-1", "1"):
            pass

    step, delivery = exported.get_finished_spans()
    assert delivery.name == "inventory-commands process"
    assert delivery.kind == trace.SpanKind.CONSUMER
    assert format(delivery.context.trace_id, "032x") == TRACE_ID
    assert delivery.parent is not None
    assert format(delivery.parent.span_id, "016x") == PARENT
    assert delivery.attributes is not None
    assert delivery.attributes["saga.id"] == "order-1"
    assert delivery.attributes["cloudevents.event_type"] == "inventory.reserve"
    assert step.parent is not None
    assert step.parent.span_id == delivery.context.span_id
    assert dict(step.attributes or {}) == {
        "saga.id": "order-1",
        "order.id": "1",
        "saga.step": "reserve",
        "saga.step.kind": "step",
    }
