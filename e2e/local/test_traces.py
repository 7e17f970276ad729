"""One order placed through the management API is one trace: a real OTLP/HTTP endpoint
started here (`testkit.otlp_sink`, decoding `ExportTraceServiceRequest` with
`opentelemetry-proto`) receives, from every app exporting with the standard `OTEL_*`
variables, the API's request span as the root, the orchestrator's handlers and saga steps,
and the inventory's, payment's and shipping's command handlers, each span's parent in the
trace. The same spans are kept in the local span store, which `sagactl workflow trace`
draws, and the services' log lines name the trace and span they were written in.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.local.conftest import module_platform
from e2e.local.harness import Platform
from e2e.local.orders import order
from services.contracts.names import AppId, saga_instance_id
from services.contracts.topology import GOOD_TEST_CARD
from testkit.otlp_sink import OtlpSink, ReceivedSpan
from testkit.platform import PlatformSettings
from testkit.polling import wait_until

SKU = "SKU-TRACE"
SERVICES = {AppId.ORCHESTRATOR, AppId.INVENTORY, AppId.PAYMENT, AppId.SHIPPING}
# Each service's command handler runs under the orchestrator's span of the step that sent it.
STEP_OF_SERVICE = {
    AppId.INVENTORY: ("inventory.reserve", "saga step reserve"),
    AppId.PAYMENT: ("payment.charge", "saga step charge"),
    AppId.SHIPPING: ("shipping.create", "saga step ship"),
}


@pytest.fixture(scope="module")
def sink() -> Iterator[OtlpSink]:
    started = OtlpSink().start()
    yield started
    started.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, sink: OtlpSink) -> Iterator[Platform]:
    root = tmp_path_factory.mktemp("traces")
    env = {**sink.env(), "TRACE_STORE": str(root / "traces.sqlite")}
    settings = PlatformSettings(inventory_seed={SKU: 50}, app_env=env)
    yield from module_platform(tmp_path_factory, settings, "traced-platform")


@pytest.fixture(scope="module")
def placed(platform: Platform) -> str:
    """An order placed through `POST /v1/orders`, completed; its saga's instance id."""
    placing = order("trace-1", [(SKU, 2, 1_500)], token=platform.token_for(GOOD_TEST_CARD))
    response = platform.api.post(
        "/v1/orders", content=placing.to_json(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 202, response.text
    final = platform.observer.wait_final(placing.order_id, timeout=60)
    assert final.type == "order.completed", final.data
    return saga_instance_id(placing.order_id)


def _traces_of(spans: list[ReceivedSpan], saga_id: str) -> dict[str, list[ReceivedSpan]]:
    ids = {span.trace_id for span in spans if span.attributes.get("saga.id") == saga_id}
    return {trace_id: [s for s in spans if s.trace_id == trace_id] for trace_id in ids}


def _ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = []
    while span.parent_span_id is not None and span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def _complete(spans: list[ReceivedSpan]) -> bool:
    """Every service's spans are in, and every span's parent."""
    ids = {span.span_id for span in spans}
    return {span.service for span in spans} >= SERVICES and all(
        span.parent_span_id is None or span.parent_span_id in ids for span in spans
    )


def test_an_order_placed_through_the_api_is_one_trace_from_the_api_to_every_service(
    platform: Platform, sink: OtlpSink, placed: str
) -> None:
    def whole_trace() -> list[ReceivedSpan] | None:
        traces = _traces_of(sink.spans(), placed)
        return (
            next(iter(traces.values()))
            if len(traces) == 1 and _complete(next(iter(traces.values())))
            else None
        )

    spans = wait_until(whole_trace, timeout=30, interval=0.2, what="the order's whole trace")
    assert len(_traces_of(sink.spans(), placed)) == 1, "the saga is in one trace"

    by_id = {span.span_id: span for span in spans}
    [root] = [span for span in spans if span.parent_span_id is None]
    assert (root.service, root.kind, root.name) == (AppId.ORCHESTRATOR, "server", "POST /v1/orders")
    assert root.attributes.get("http.route") == "/v1/orders"
    for service, (command, step) in STEP_OF_SERVICE.items():
        [handler] = [
            s
            for s in spans
            if s.service == service
            and s.kind == "consumer"
            and s.attributes.get("cloudevents.event_type") == command
        ]
        chain = _ancestors(handler, by_id)
        assert chain[-1] == root, f"{service}'s handler descends from the API's request"
        [sent_by] = [s for s in chain if s.name.startswith("saga step")]
        assert (sent_by.service, sent_by.name) == (AppId.ORCHESTRATOR, step)
        assert sent_by.attributes["order.id"] == "trace-1"
        assert sent_by.attributes["saga.step"] == step.rsplit(" ", 1)[1]
    # The replies come back to the orchestrator in the same trace, under their service.
    reply_handlers = [
        s for s in spans if s.service == AppId.ORCHESTRATOR and s.name == "saga-replies process"
    ]
    assert {_ancestors(s, by_id)[0].service for s in reply_handlers} >= set(STEP_OF_SERVICE)


def test_the_services_log_lines_name_the_trace_and_span(platform: Platform, placed: str) -> None:
    handled = [
        line
        for service in STEP_OF_SERVICE
        for line in platform.log_records(service)
        if line.get("saga_id") == placed and line["msg"] == "command handled"
    ]
    assert len(handled) == 4, "reserve, charge, ship, commit"

    def stored_with_every_line() -> list[dict[str, object]] | None:
        spans = _traces_of_store(platform, placed) or []
        ids = {span["spanId"] for span in spans}
        return spans if all(line["span_id"] in ids for line in handled) else None

    spans = wait_until(stored_with_every_line, timeout=30, what="the spans of the log lines")
    [trace_id] = {span["traceId"] for span in spans}
    assert {line["trace_id"] for line in handled} == {trace_id}
    by_id = {span["spanId"]: span for span in spans}
    assert {by_id[line["span_id"]]["name"] for line in handled} == {
        "inventory-commands process",
        "payment-commands process",
        "shipping-commands process",
    }


def _traces_of_store(platform: Platform, saga_id: str) -> list[dict[str, object]] | None:
    response = platform.api.get(f"/v1/runs/{saga_id}/trace")
    if response.status_code != 200:
        return None
    spans: list[dict[str, object]] = response.json()["spans"]
    return spans if {span["service"] for span in spans} >= SERVICES else None


def test_sagactl_draws_the_sagas_trace_from_the_local_span_store(
    platform: Platform, placed: str
) -> None:
    wait_until(lambda: _traces_of_store(platform, placed), timeout=30, what="the stored trace")

    drawn = platform.cli("workflow", "trace", placed, "-o", "wide")
    as_json = platform.cli("workflow", "trace", placed, "-o", "json").json()

    assert drawn.returncode == 0, drawn.describe()
    lines = drawn.stdout.splitlines()
    assert lines[0].startswith(f"{placed}: trace ")
    names = [line.split()[0] for line in lines[2:] if line.strip()]
    assert names[0] == "POST", "the API's request comes first"
    for step in ("reserve", "charge", "ship", "commit"):
        assert any(f"saga step {step}" in line or f"completion {step}" in line for line in lines)
    assert {span["service"] for span in as_json["spans"]} >= SERVICES
    missing = platform.cli("workflow", "trace", "order-no-such-order")
    assert missing.returncode != 0
    assert "no span of 'order-no-such-order'" in missing.stderr
