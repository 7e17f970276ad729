"""`make bench`, tracing part: orders/s through the whole platform with tracing off and on.

The embedded platform of E1 (`bench/e2e.py`: the same settings, orders and measurement),
started twice, back to back:

- off: `OTEL_SDK_DISABLED=true`; no span is recorded, the trace context is still carried;
- on: every app records its spans and exports them over OTLP/HTTP (batched, as in
  production) to a real endpoint in this process (`testkit.otlp_sink`, which decodes each
  request with `opentelemetry-proto`, as a collector would).

The sink's decoding runs in this process, on the same cores as the platform: its cost is
part of the "on" figure, as a collector's would be on a one-host run.
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.e2e import BURST_ORDERS, SETTINGS, WARMUP_ORDERS, OrderBench
from bench.report import format_table
from testkit.otlp_sink import OtlpSink
from testkit.platform import Platform
from testkit.polling import wait_until
from testkit.runtimes import EmbeddedRuntime

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / ".data" / "bench" / "tracing"
SETUP = "dapr.yaml on embedded sidecars, as E1; on: OTLP/HTTP to a local sink, every span"

Figures = dict[str, Any]


def _settled(sink: OtlpSink) -> int:
    """The number of spans received once no more arrive (the apps' batches are flushed)."""
    seen: list[int] = []

    def probe() -> tuple[int] | None:  # a tuple: a count of 0 is an answer too
        seen.append(len(sink.spans()))
        return (seen[-1],) if len(seen) > 1 and seen[-1] == seen[-2] else None

    [count] = wait_until(probe, timeout=30, interval=1.0, what="the last span batches")
    return count


def measure_mode(mode: str, work: Path, orders: int) -> Figures:
    """E1's burst on a platform with tracing `off` or `on`."""
    shutil.rmtree(work, ignore_errors=True)
    sink = OtlpSink().start()
    env = sink.env() if mode == "on" else {"OTEL_SDK_DISABLED": "true"}
    try:
        settings = replace(SETTINGS, app_env=env)
        platform = Platform(work, settings, runtime=EmbeddedRuntime()).start()
        try:
            bench = OrderBench(platform)
            bench.burst(WARMUP_ORDERS, "warmup")
            before = _settled(sink)
            figures = bench.burst(orders)
            platform.check_running()
        finally:
            platform.close()
        figures["spans_per_order"] = (_settled(sink) - before) / orders
    finally:
        sink.close()
    return figures


def measure(work: Path = OUT_DIR, orders: int = BURST_ORDERS) -> Figures:
    """The burst with tracing off, then on."""
    return {
        "setup": SETUP,
        **{mode: measure_mode(mode, work / mode, orders) for mode in ("off", "on")},
    }


def table(figures: Figures) -> str:
    off, on = figures["off"], figures["on"]
    orders = off["orders"]
    rows = [
        ("", "tracing off", "tracing on", "on / off"),
        (
            f"E1 {orders} orders at once -> all completed: orders/s",
            f"{off['orders_per_s']:.1f}",
            f"{on['orders_per_s']:.1f}",
            f"{on['orders_per_s'] / off['orders_per_s']:.2f}x",
        ),
        (
            "E1 order latency p50: ms",
            f"{off['p50_ms']:.0f}",
            f"{on['p50_ms']:.0f}",
            f"{on['p50_ms'] / off['p50_ms']:.2f}x",
        ),
        (
            "E1 order latency p99: ms",
            f"{off['p99_ms']:.0f}",
            f"{on['p99_ms']:.0f}",
            f"{on['p99_ms'] / off['p99_ms']:.2f}x",
        ),
        (
            "spans exported per order",
            f"{off['spans_per_order']:.0f}",
            f"{on['spans_per_order']:.0f}",
            "",
        ),
    ]
    return format_table(rows)


def main() -> None:
    """`python -m bench.tracing [--orders N]`: the tracing figures alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=BURST_ORDERS)
    args = parser.parse_args()
    started = time.monotonic()
    figures = measure(orders=args.orders)
    print(f"tracing: {figures['setup']}")
    print(table(figures))
    print(f"({time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    main()
