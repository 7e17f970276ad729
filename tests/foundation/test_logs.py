"""One log line shape for every process, with a saga's ids carried by context."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest
from opentelemetry.sdk.trace import TracerProvider

from foundation.logs import configure, log_context


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure("inventory", "debug")
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_has_the_platform_fields_with_a_lower_case_level_and_utc_time(
    lines: io.StringIO,
) -> None:
    logging.getLogger("services.x").warning("stock low", extra={"sku": "SKU-1"})

    [record] = _records(lines)
    assert {k: record[k] for k in ("level", "logger", "msg", "app_id", "sku")} == {
        "level": "warning",
        "logger": "services.x",
        "msg": "stock low",
        "app_id": "inventory",
        "sku": "SKU-1",
    }
    assert str(record["time"]).endswith("Z")
    assert datetime.fromisoformat(str(record["time"])).utcoffset() is not None


def test_ids_set_by_log_context_reach_every_line_inside_it_and_no_line_after(
    lines: io.StringIO,
) -> None:
    log = logging.getLogger("services.y")
    with log_context(saga_id="order-1", instance_id="order-1"):
        log.info("reserved")
        with log_context(command_id="order-1:reserve"):
            log.info("replied", extra={"instance_id": "approval-1"})
    log.info("idle")

    reserved, replied, idle = _records(lines)
    assert (reserved["saga_id"], reserved["instance_id"]) == ("order-1", "order-1")
    # An explicit field wins over the context; nested contexts add to the outer one.
    assert (replied["instance_id"], replied["command_id"]) == ("approval-1", "order-1:reserve")
    assert "saga_id" not in idle


async def test_concurrent_tasks_keep_their_own_ids(lines: io.StringIO) -> None:
    log = logging.getLogger("sidecar.z")
    both_inside = asyncio.Barrier(2)

    async def handle(saga_id: str) -> None:
        with log_context(saga_id=saga_id):
            await both_inside.wait()
            log.info("handled")

    await asyncio.gather(handle("order-a"), handle("order-b"))

    assert sorted(str(r["saga_id"]) for r in _records(lines)) == ["order-a", "order-b"]


def test_a_line_inside_a_span_names_its_trace_and_span_and_a_line_outside_none(
    lines: io.StringIO,
) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("handling") as span:
        logging.getLogger("services.x").info("inside")
    logging.getLogger("services.x").info("after")

    inside, after = _records(lines)
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
    )
    assert "trace_id" not in after
    assert "span_id" not in after
