"""The spans the apps make around their messages and saga steps (OpenTelemetry).

- `consuming(event)`: a CONSUMER span per delivered message, in the trace of the
  CloudEvent's `traceparent` (which the sidecar set from the publisher's call), so a
  handler continues the trace of whoever published; a message without one starts a trace.
- `publishing(topic, type)`: a PRODUCER span per publish; the publish call inside it
  carries the span's context to the sidecar (gRPC metadata, `foundation.tracing`), which
  writes it into the CloudEvent.
- `saga_span(name, ...)`: a saga step or compensation, with `saga.id`, `order.id` and
  `saga.step`; made in activities only, never in workflow code (which replays).

With no tracer provider set (`OTEL_SDK_DISABLED`), the spans record nothing but still hand
the incoming context on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dapr.ext.grpc import SubscriptionMessage
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from foundation.span_store import SAGA_ID

ORDER_ID = "order.id"
SAGA_STEP = "saga.step"
SAGA_STEP_KIND = "saga.step.kind"
MESSAGING_SYSTEM = "dapr"

_tracer = trace.get_tracer("services")
_propagator = TraceContextTextMapPropagator()


def traceparent_of(event: SubscriptionMessage) -> str:
    """The CloudEvent's `traceparent`, else the one the delivery call carried, else ""."""
    extensions = event.extensions() or {}
    return str(extensions.get("traceparent") or (event.metadata() or {}).get("traceparent", ""))


@contextmanager
def consuming(event: SubscriptionMessage) -> Iterator[Span]:
    """The current span while one delivered message is handled."""
    traceparent = traceparent_of(event)
    parent = _propagator.extract({"traceparent": traceparent}) if traceparent else None
    topic = str(event.topic())
    with _tracer.start_as_current_span(
        f"{topic} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.message.id": str(event.id()),
            "cloudevents.event_type": str(event.type()),
        },
    ) as span:
        yield span


@contextmanager
def publishing(topic: str, event_type: str) -> Iterator[Span]:
    """The current span while one message is published."""
    with _tracer.start_as_current_span(
        f"{topic} publish",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "cloudevents.event_type": event_type,
        },
    ) as span:
        yield span


@contextmanager
def saga_span(kind: str, step: str, saga_id: str, order_id: str) -> Iterator[Span]:
    """The current span of one saga step (`kind` `step`, `compensation`, `completion`)."""
    with _tracer.start_as_current_span(
        f"saga {kind} {step}",
        attributes={SAGA_ID: saga_id, ORDER_ID: order_id, SAGA_STEP: step, SAGA_STEP_KIND: kind},
    ) as span:
        yield span


def tag_saga(saga_id: str | None, order_id: str | None = None) -> None:
    """Marks the current span as one of a saga's (the local store finds a saga's traces by
    it)."""
    span = trace.get_current_span()
    if saga_id:
        span.set_attribute(SAGA_ID, saga_id)
    if order_id:
        span.set_attribute(ORDER_ID, order_id)
