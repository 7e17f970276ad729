"""A saga's trace as a waterfall in the terminal (`sagactl workflow trace`).

The spans come from the management API (`GET /v1/runs/{id}/trace`). Each trace is drawn
as a tree, children under their parent by start time, with a bar per span placed on the
trace's time line, so the API call, the orchestrator's steps and the services' handlers
read top to bottom in the order they ran. rich draws it (colour only on a terminal).
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

Span = dict[str, Any]
BAR_MIN_WIDTH = 20
LABEL_MIN_WIDTH = 24
# A colour per service, in the order the services first appear in a trace.
SERVICE_STYLES = ("cyan", "green", "magenta", "yellow", "blue", "red")


def _start_s(span: Span) -> float:
    return datetime.fromisoformat(span["start"]).timestamp()


def _tree(spans: list[Span]) -> Iterator[tuple[int, Span]]:
    """The spans depth-first, children by start time; a span whose parent is not in the
    list (the trace's root, or a parent not kept) is a root."""
    ids = {span["spanId"] for span in spans}
    children: dict[str | None, list[Span]] = defaultdict(list)
    for span in sorted(spans, key=_start_s):
        parent = span.get("parentSpanId")
        children[parent if parent in ids else None].append(span)

    def walk(parent: str | None, depth: int) -> Iterator[tuple[int, Span]]:
        for span in children.get(parent, []):
            yield depth, span
            yield from walk(span["spanId"], depth + 1)

    return walk(None, 0)


def _label(name: str) -> str:
    """A gRPC call's span without its package: `/dapr.proto.runtime.v1.Dapr/GetState` is
    drawn as `Dapr/GetState` (`-o json` keeps the whole name)."""
    if not name.startswith("/"):
        return name
    service, _, method = name[1:].rpartition("/")
    return f"{service.rsplit('.', 1)[-1]}/{method}"


def _bar(offset_ms: float, duration_ms: float, total_ms: float, width: int) -> str:
    start = min(width - 1, int(offset_ms / total_ms * width)) if total_ms else 0
    length = max(1, round(duration_ms / total_ms * width)) if total_ms else 1
    return " " * start + "█" * min(length, width - start)


def render_waterfall(instance_id: str, spans: list[Span], width: int, color: bool) -> str:
    """The waterfall of every trace in `spans` (as the API returns them), `width` columns."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span["traceId"]].append(span)
    console = Console(
        file=io.StringIO(),
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
    )
    styles: dict[str, str] = {}
    for trace_id, members in sorted(by_trace.items(), key=lambda item: min(map(_start_s, item[1]))):
        began = min(map(_start_s, members))
        total_ms = max(_start_s(s) * 1000 + s["durationMs"] for s in members) - began * 1000
        console.print(
            Text(f"{instance_id}: trace {trace_id}, {len(members)} spans, {total_ms:.1f} ms"),
            style="bold",
        )
        rows = list(_tree(members))
        services = max(len("SERVICE"), *(len(span["service"]) for _, span in rows))
        # SPAN, SERVICE, START, DURATION, then the bar; one space between columns.
        fixed = services + len("START ms") + len("DURATION ms") + 4
        longest = max(len("  " * depth + _label(span["name"])) for depth, span in rows)
        label_width = min(longest, max(LABEL_MIN_WIDTH, width - fixed - BAR_MIN_WIDTH))
        bar_width = max(BAR_MIN_WIDTH // 2, width - fixed - label_width)
        table = Table(
            box=None, pad_edge=False, collapse_padding=True, show_edge=False, header_style="bold"
        )
        table.add_column("SPAN", no_wrap=True, overflow="ellipsis", width=label_width)
        table.add_column("SERVICE", no_wrap=True, width=services)
        table.add_column("START ms", justify="right", no_wrap=True)
        table.add_column("DURATION ms", justify="right", no_wrap=True)
        table.add_column("", no_wrap=True, width=bar_width)
        for depth, span in rows:
            style = styles.setdefault(
                span["service"], SERVICE_STYLES[len(styles) % len(SERVICE_STYLES)]
            )
            offset_ms = (_start_s(span) - began) * 1000
            failed = span.get("status") == "error"
            table.add_row(
                Text("  " * depth + _label(span["name"]), style="red" if failed else ""),
                Text(span["service"], style=style),
                f"{offset_ms:.1f}",
                f"{span['durationMs']:.1f}",
                Text(_bar(offset_ms, span["durationMs"], total_ms, bar_width), style=style),
            )
        console.print(table)
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue().rstrip("\n")
