"""`sagactl workflow trace` draws a trace as a tree of spans on one time line."""

from __future__ import annotations

from typing import Any

from sagactl.waterfall import render_waterfall


def _span(span_id: str, parent: str | None, name: str, start_ms: int, ms: float) -> dict[str, Any]:
    return {
        "traceId": "t1",
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "service": name.split()[0],
        "start": f"2026-01-01T00:00:00.{start_ms:03d}000+00:00",
        "durationMs": ms,
        "status": "unset",
    }


def test_children_are_drawn_under_their_parent_in_start_order_with_bars_on_one_time_line() -> None:
    spans = [
        _span("c", "a", "payment handler", 600, 200),
        _span("a", None, "api request", 0, 1000),
        _span("b", "a", "inventory handler", 100, 300),
        _span("d", "b", "/dapr.proto.runtime.v1.Dapr/GetState", 150, 100),
        _span("x", "gone", "orphan call", 900, 50),
    ]

    lines = render_waterfall("order-1", spans, width=140, color=False).splitlines()

    assert lines[0] == "order-1: trace t1, 5 spans, 1000.0 ms"
    rows = [line for line in lines[2:] if line.strip()]
    service_column = lines[1].index("SERVICE")
    assert [row[:service_column].strip() for row in rows] == [
        "api request",
        "inventory handler",
        "Dapr/GetState",
        "payment handler",
        "orphan call",
    ]
    assert rows[2].startswith("    Dapr/GetState")
    bars = [row.index("█") for row in rows]
    assert bars[0] < bars[1] < bars[2] < bars[3] < bars[4]
    assert rows[0].count("█") > rows[3].count("█")
