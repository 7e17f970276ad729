"""`GET /v1/runs/{id}/trace`: a saga's spans from the local span store, or why there are none."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from foundation.span_store import SpanStoreExporter
from services.orchestrator.api.errors import ErrorCode
from tests.api.harness import bearer


def test_a_sagas_spans_are_served_from_the_store(
    make_app: Callable[..., FastAPI], tester_token: str, tmp_path: Path
) -> None:
    store = tmp_path / "traces.sqlite"
    provider = TracerProvider(resource=Resource.create({"service.name": "orchestrator"}))
    provider.add_span_processor(SimpleSpanProcessor(SpanStoreExporter(store)))
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("POST /v1/orders") as root,
        tracer.start_as_current_span("saga step reserve", attributes={"saga.id": "order-7"}),
    ):
        pass
    provider.shutdown()

    with TestClient(make_app(trace_store=store), headers=bearer(tester_token)) as http:
        found = http.get("/v1/runs/order-7/trace")
        missing = http.get("/v1/runs/order-8/trace")

    assert found.status_code == 200, found.text
    body = found.json()
    assert body["instanceId"] == "order-7"
    first, second = body["spans"]
    assert (first["name"], first["parentSpanId"], first["service"]) == (
        "POST /v1/orders",
        None,
        "orchestrator",
    )
    assert (
        second["parentSpanId"] == first["spanId"] == format(root.get_span_context().span_id, "016x")
    )
    assert second["attributes"] == {"saga.id": "order-7"}
    assert second["durationMs"] >= 0
    assert (missing.status_code, missing.json()["code"]) == (404, ErrorCode.TRACE_NOT_FOUND)


def test_without_a_store_the_route_says_the_spans_are_not_kept(api: TestClient) -> None:
    response = api.get("/v1/runs/order-7/trace")

    assert (response.status_code, response.json()["code"]) == (404, ErrorCode.TRACES_NOT_KEPT)
    assert "OTLP collector" in response.json()["detail"]
