"""A run page's trace: the local span store's spans as waterfall rows, each under its
parent, placed on the trace's time line; and the page that draws them from the real API."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import dapr.ext.workflow as wf
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from foundation.span_store import SpanStoreExporter
from services.contracts.names import WorkflowName
from services.orchestrator.console.session import COOKIE
from services.orchestrator.console.trace_view import trace_rows
from tests.api.harness import finished, order


def _span(span_id: str, parent: str | None, start_ms: int, duration_ms: float) -> dict[str, object]:
    return {
        "spanId": span_id,
        "parentSpanId": parent,
        "service": "svc",
        "name": f"span {span_id}",
        "start": f"2026-11-29T10:00:00.{start_ms:03d}+00:00",
        "durationMs": duration_ms,
        "status": "error" if span_id == "c" else "ok",
    }


def test_rows_are_depth_first_by_start_and_placed_on_the_traces_time_line() -> None:
    spans = [
        _span("c", "a", 500, 100),  # the later child of a
        _span("b", "a", 100, 200),
        _span("a", None, 0, 1000),
        _span("d", "b", 150, 50),
        _span("x", "not-kept", 900, 100),  # its parent is elsewhere: a root of its own
    ]

    rows = trace_rows(spans)

    assert [(r.name, r.depth) for r in rows] == [
        ("span a", 0),
        ("span b", 1),
        ("span d", 2),
        ("span c", 1),
        ("span x", 0),
    ]
    assert [(r.offset_pct, r.width_pct) for r in rows] == [
        (0, 100),
        (10, 20),
        (15, 5),
        (50, 10),
        (90, 10),
    ]
    assert [r.failed for r in rows] == [False, False, False, True, False]
    assert trace_rows([]) == []


def test_a_run_page_draws_the_sagas_trace_or_says_why_there_is_none(
    make_app: Callable[..., FastAPI],
    runtime: wf.WorkflowRuntime,
    client: wf.DaprWorkflowClient,
    tester_token: str,
    tmp_path: Path,
) -> None:
    for order_id in ("7", "8"):
        finished(
            client,
            client.schedule_new_workflow(
                WorkflowName.ORDER_SAGA.value,
                input={"order": order(order_id), "config": {"approvalThresholdCents": 100_000}},
                instance_id=f"order-{order_id}",
            ),
        )
    store = tmp_path / "traces.sqlite"
    provider = TracerProvider(resource=Resource.create({"service.name": "inventory"}))
    provider.add_span_processor(SimpleSpanProcessor(SpanStoreExporter(store)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /v1/orders"):
        with tracer.start_as_current_span("saga step reserve", attributes={"saga.id": "order-7"}):
            pass
        with tracer.start_as_current_span("inventory.reserve") as failing:
            failing.set_status(Status(StatusCode.ERROR))
    provider.shutdown()

    with TestClient(make_app(trace_store=store)) as console:
        console.cookies.set(COOKIE, tester_token)
        page = console.get("/ui/runs/order-7/live")
        other = console.get("/ui/runs/order-8/live")

    assert page.status_code == 200, page.text
    rows = re.findall(
        r'<li class="span( failed)?" style="--depth: (\d)">\s*<span class="span-label">'
        r'<span class="service">(\w+)</span> ([^<]+)</span>',
        page.text,
    )
    assert rows == [
        ("", "0", "inventory", "POST /v1/orders"),
        ("", "1", "inventory", "saga step reserve"),
        (" failed", "1", "inventory", "inventory.reserve"),
    ]
    assert 'id="trace"' not in other.text
    assert "no span of &#39;order-8&#39; is kept" in other.text
