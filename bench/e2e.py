"""`make bench`, end-to-end part: orders through the whole platform, on both runtimes.

The platform is started by the testing kit (`testkit.platform`, as for the e2e suite), with
logs at `warn`, once on each runtime (`testkit.runtimes`): `embedded`, the four apps of
`dapr.yaml` with five embedded sidecars (counting the observer's) on one data folder with
durable `pubsub.sqlite` and `state.sqlite`; then `daprd`, the same apps from
`dapr.daprd.yaml` with one daprd each, placement, scheduler and one Redis for
`pubsub.redis` and `state.redis` (the chart's components and resiliency). This process is
the upstream system: it publishes `order.placed` with the real `DaprClient` through the
observer's sidecar, and sees each `order.completed` when the observer app records it.

E1, throughput: `BURST_ORDERS` orders (three SKUs, under the approval threshold, so each
saga runs reserve -> charge -> ship with no human in it) published back to back; orders/s
from the first publish to the last `order.completed` seen, and each order's latency
(publish -> its `order.completed` seen) p50 / p99 under that load.

Over E1, each process's CPU milliseconds per order (`bench/cpu.py`): every app and sidecar,
the observer's too, and daprd's Redis, placement and scheduler.

E2, latency: `IDLE_ORDERS` orders one at a time, each published once the previous one
completed: the saga's latency on an idle platform.

Latencies are measured by polling the observer's event log every `POLL_S`, which bounds
their resolution. Everything runs on one host: 11 processes (14 under daprd) share its
cores.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench import cpu
from bench.report import format_table, percentile
from e2e.local.orders import order
from services.contracts.messages import OrderPlaced
from services.contracts.names import EventType
from services.contracts.topology import GOOD_TEST_CARD
from testkit.daprd import DaprdRuntime
from testkit.platform import Platform, PlatformSettings
from testkit.polling import wait_until
from testkit.runtimes import RUNTIMES

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / ".data" / "bench" / "e2e"
WARMUP_ORDERS = 5
BURST_ORDERS = 200
IDLE_ORDERS = 20
POLL_S = 0.005
WAIT_S = 300.0
SEED = {"BENCH-A": 100_000, "BENCH-B": 100_000, "BENCH-C": 100_000}
SETTINGS = PlatformSettings(
    approval_threshold_cents=100_000,
    step_timeout_seconds=120.0,
    inventory_seed=SEED,
    log_level="warn",
)

Figures = dict[str, Any]
SETUPS = {
    "embedded": "dapr.yaml on embedded sidecars: 4 apps + observer app, 10 processes; "
    "durable pubsub.sqlite and state.sqlite shared",
    "daprd": "dapr.daprd.yaml on daprd: 4 apps + observer app with a daprd each, placement, "
    "scheduler, one Redis (pubsub.redis, state.redis, the chart's resiliency), 13 processes",
}
COMMON_SETUP = "logs at warn; reserve -> charge -> ship, no approval"


def bench_order(order_id: str, index: int, token: str) -> OrderPlaced:
    return order(
        order_id,
        [("BENCH-A", 1 + index % 3, 1_250), ("BENCH-B", 1, 999), ("BENCH-C", 2, 500)],
        token=token,
    )


class OrderBench:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._count = 0

    def orders(self, count: int, label: str) -> list[OrderPlaced]:
        token = self.platform.token_for(GOOD_TEST_CARD)
        made = [bench_order(f"{label}-{self._count + i:04d}", i, token) for i in range(count)]
        self._count += count
        return made

    def completed_at(self, order_ids: set[str]) -> dict[str, float]:
        """When each of `order_ids` was first seen completed; raises on any other outcome."""
        seen: dict[str, float] = {}
        for order_id, delivery in self.platform.observer.finals().items():
            if order_id not in order_ids:
                continue
            if delivery.type != EventType.ORDER_COMPLETED:
                raise RuntimeError(f"order {order_id} did not complete: {delivery.data}")
            seen[order_id] = delivery.seen_at
        return seen

    def wait_completed(self, order_ids: set[str]) -> dict[str, float]:
        def probe() -> dict[str, float] | None:
            self.platform.check_running()
            seen = self.completed_at(order_ids)
            return seen if len(seen) == len(order_ids) else None

        return wait_until(probe, timeout=WAIT_S, interval=POLL_S, what="orders to complete")

    def burst(self, count: int, label: str = "burst") -> Figures:
        orders = self.orders(count, label)
        published: dict[str, float] = {}
        for placed in orders:
            published[placed.order_id] = time.monotonic()
            self.platform.place_order(placed)
        publishing_s = time.monotonic() - min(published.values())
        completed = self.wait_completed(set(published))
        latencies = [(completed[i] - published[i]) * 1000 for i in published]
        seconds = max(completed.values()) - min(published.values())
        return {
            "orders": count,
            "seconds": seconds,
            "orders_per_s": count / seconds,
            "publishing_s": publishing_s,
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies),
        }

    def idle(self, count: int) -> Figures:
        latencies = []
        for placed in self.orders(count, "idle"):
            published = time.monotonic()
            self.platform.place_order(placed)
            completed = self.wait_completed({placed.order_id})[placed.order_id]
            latencies.append((completed - published) * 1000)
        return {
            "orders": count,
            "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 0.99),
            "mean_ms": statistics.fmean(latencies),
        }


def platform_pids(platform: Platform) -> dict[str, int]:
    """Every process of the platform by name: `<app> app`, `<app> sidecar`, daprd's services."""
    pids: dict[str, int] = {}
    for app_id, node in platform.nodes.items():
        pids[f"{app_id} app"] = node.app.pid
        pids[f"{app_id} sidecar"] = node.sidecar.pid
    runtime = platform.runtime
    if isinstance(runtime, DaprdRuntime) and runtime.services is not None:
        pids |= {process.name: process.pid for process in runtime.services.processes}
    return pids


def measure_on(
    runtime: str, work: Path, settings: PlatformSettings = SETTINGS, idle_orders: int = IDLE_ORDERS
) -> Figures:
    """The figures of the platform on `runtime` (a name of `testkit.runtimes.RUNTIMES`);
    E2 is left out when `idle_orders` is 0."""
    shutil.rmtree(work, ignore_errors=True)
    started = time.monotonic()
    platform = Platform(work, settings, runtime=RUNTIMES[runtime]()).start()
    start_s = time.monotonic() - started
    try:
        bench = OrderBench(platform)
        bench.burst(WARMUP_ORDERS, "warmup")
        pids = platform_pids(platform)
        before = cpu.sample(pids)
        burst = bench.burst(BURST_ORDERS)
        burst["cpu_ms_per_order"] = cpu.per_order_ms(before, cpu.sample(pids), BURST_ORDERS)
        idle = bench.idle(idle_orders) if idle_orders else None
        platform.check_running()
        version = platform.runtime.version()
    finally:
        platform.close()
    return {
        "setup": f"{SETUPS[runtime]} ({version}); {COMMON_SETUP}",
        "platform_start_s": start_s,
        "burst": burst,
        "idle": idle,
    }


def measure(work: Path = OUT_DIR) -> Figures:
    """The figures on each runtime, by runtime name."""
    return {runtime: measure_on(runtime, work / runtime) for runtime in SETUPS}


def table(figures: Figures) -> str:
    runtimes = list(figures)
    burst = {name: figures[name]["burst"] for name in runtimes}
    idle = {name: figures[name]["idle"] for name in runtimes}
    orders = burst[runtimes[0]]["orders"]
    idle_orders = idle[runtimes[0]]["orders"]

    def row(label: str, values: dict[str, Figures], key: str, form: str) -> tuple[str, ...]:
        return (label, *(format(values[name][key], form) for name in runtimes))

    rows = [
        ("", *runtimes),
        row(f"E1 {orders} orders at once -> all completed: orders/s", burst, "orders_per_s", ".1f"),
        row("E1 order latency p50 (publish -> order.completed seen): ms", burst, "p50_ms", ".0f"),
        row("E1 order latency p99: ms", burst, "p99_ms", ".0f"),
        row(f"E2 idle order latency p50 ({idle_orders} one at a time): ms", idle, "p50_ms", ".0f"),
        row("E2 idle order latency p99: ms", idle, "p99_ms", ".0f"),
        row("platform start: s", figures, "platform_start_s", ".1f"),
    ]
    return format_table(rows)


def describe(figures: Figures) -> str:
    return "\n".join(f"{name}: {runtime['setup']}" for name, runtime in figures.items())


def main() -> None:
    """`python -m bench.e2e`: the end-to-end figures alone (`make bench` runs them too)."""
    figures = measure()
    print(describe(figures))
    print(table(figures))


if __name__ == "__main__":
    main()
