"""A saga's trace as the run page draws it: the spans of `GET /v1/runs/{id}/trace` as rows
of a waterfall, each under its parent, with its place and length on the trace's time line
in percent, so the template draws bars with no script."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TraceRow:
    depth: int
    service: str
    name: str
    offset_pct: float
    width_pct: float
    duration_ms: float
    failed: bool


def trace_rows(spans: list[dict[str, Any]]) -> list[TraceRow]:
    """Every span once, depth first from the roots (a span whose parent is not among them
    is a root), siblings by start time; times relative to the earliest start."""
    if not spans:
        return []
    starts = {span["spanId"]: datetime.fromisoformat(span["start"]) for span in spans}
    first = min(starts.values())
    ends = [starts[s["spanId"]].timestamp() * 1000 + s["durationMs"] for s in spans]
    total_ms = max(max(ends) - first.timestamp() * 1000, 1e-3)
    known = set(starts)
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        parent = span.get("parentSpanId")
        children[parent if parent in known else None].append(span)
    rows: list[TraceRow] = []

    def visit(parent: str | None, depth: int) -> None:
        for span in sorted(children[parent], key=lambda s: starts[s["spanId"]]):
            offset_ms = (starts[span["spanId"]] - first).total_seconds() * 1000
            rows.append(
                TraceRow(
                    depth=depth,
                    service=span["service"],
                    name=span["name"],
                    offset_pct=round(100 * offset_ms / total_ms, 2),
                    width_pct=round(max(100 * span["durationMs"] / total_ms, 0.3), 2),
                    duration_ms=span["durationMs"],
                    failed=span.get("status") == "error",
                )
            )
            visit(span["spanId"], depth + 1)

    visit(None, 0)
    return rows
