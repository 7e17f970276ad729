"""`make soak`: the platform at half its capacity for a long while, to see whether anything
grows that should not (memory, SQLite files, stored runs) and whether latency drifts.

The platform of `dapr.yaml` on embedded sidecars (the testing kit's, logs at `warn`), with
the orchestrator purging finished runs `SOAK_RETENTION` after they end. First its capacity,
quickly: `CAPACITY_ORDERS` orders published at once, orders/s until all completed (as
`make bench`'s E1). Then orders arrive through `POST /v1/orders` at half that rate (or
`SOAK_RATE` orders/s), evenly spaced, each retried until accepted
(`testkit.api_orders`), for `SOAK_MINUTES` (30 by default). Each order's latency runs from
its first call to its `order.completed` seen by the observer.

Reported per `SOAK_INTERVAL_S` (by when the orders were placed): orders placed, accepted,
completed, failed calls and orders that ended otherwise, latency p50 and p99; and at the
start and the end (`bench/footprint.py`): every process's resident memory, every SQLite
file's size (write-ahead logs apart), the workflow runs and history rows the orchestrator's
store holds, with the growth per hour in the steady state, extrapolated: from the first
sample after `SOAK_RETENTION` plus two sweeps (the stores then hold a full retention
window and purges keep pace) to the end; from the run's middle if it is shorter. Every
sample goes to `.data/bench/soak.json` with the figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import footprint
from bench.e2e import OrderBench, bench_order, platform_pids
from bench.report import format_table, percentile
from foundation.durations import parse_go_duration
from services.contracts.names import EventType
from services.contracts.topology import GOOD_TEST_CARD
from testkit.api_orders import ApiOrders
from testkit.platform import Platform, PlatformSettings
from testkit.polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / ".data" / "bench"
CAPACITY_ORDERS = 100
CUSTOMERS = 16  # concurrent calls at most; arrivals do not wait for each other
POLL_S = 0.05  # how often the observer's records are read: the latencies' resolution
DRAIN_S = 120.0
SEED = {"BENCH-A": 10_000_000, "BENCH-B": 10_000_000, "BENCH-C": 10_000_000}

Figures = dict[str, Any]


@dataclass(frozen=True)
class SoakSettings:
    minutes: float = 30.0
    rate: float | None = None  # orders/s; None: half the measured capacity
    interval_s: float = 60.0
    retention: str = "5m"
    retention_interval: str = "1m"

    @classmethod
    def from_env(cls) -> SoakSettings:
        rate = os.environ.get("SOAK_RATE")
        return cls(
            minutes=float(os.environ.get("SOAK_MINUTES", cls.minutes)),
            rate=float(rate) if rate else None,
            interval_s=float(os.environ.get("SOAK_INTERVAL_S", cls.interval_s)),
            retention=os.environ.get("SOAK_RETENTION", cls.retention),
            retention_interval=os.environ.get("SOAK_RETENTION_INTERVAL", cls.retention_interval),
        )


@dataclass
class Arrivals:
    """The soak's orders: when each was first tried, and when it was seen ending, how."""

    placed_at: dict[str, float] = field(default_factory=dict)
    ended: dict[str, tuple[float, str]] = field(default_factory=dict)

    def observe(self, platform: Platform) -> None:
        for order_id, delivery in platform.observer.finals().items():
            if order_id in self.placed_at and order_id not in self.ended:
                self.ended[order_id] = (delivery.seen_at, delivery.type)

    def outstanding(self) -> int:
        return len(self.placed_at) - len(self.ended)


def soak(platform: Platform, settings: SoakSettings, rate: float) -> Figures:
    """Orders at `rate` for `settings.minutes`, sampling the footprint each interval."""
    client = ApiOrders(platform.api_url, platform.api_token, give_up_after=DRAIN_S)
    token = platform.token_for(GOOD_TEST_CARD)
    arrivals = Arrivals()
    pids = platform_pids(platform)
    data_dir = platform.data_dir
    workflow_db = data_dir / "orchestrator.sqlite"
    samples = [footprint.sample(pids, data_dir, workflow_db)]
    started = samples[0].at
    end = started + settings.minutes * 60
    next_sample = started + settings.interval_s
    next_poll = started
    count = 0
    with ThreadPoolExecutor(max_workers=CUSTOMERS) as pool:
        while (now := time.monotonic()) < end:
            due = started + count / rate
            if now >= due:
                order = bench_order(f"soak-{count:06d}", count, token)
                arrivals.placed_at[order.order_id] = now
                pool.submit(client.place, order)
                count += 1
                continue
            if now >= next_poll:
                arrivals.observe(platform)
                next_poll = now + POLL_S
            if now >= next_sample:
                platform.check_running()
                samples.append(footprint.sample(pids, data_dir, workflow_db))
                next_sample += settings.interval_s
            time.sleep(max(0.0, min(due, next_poll) - time.monotonic()))  # arrival pacing

    def drained() -> bool:
        arrivals.observe(platform)
        return arrivals.outstanding() == 0

    with contextlib.suppress(TimeoutError):  # what never ends is reported as unfinished
        wait_until(drained, timeout=DRAIN_S, interval=POLL_S, what="the last orders to end")
    samples.append(footprint.sample(pids, data_dir, workflow_db))
    client.close()
    return {
        "rate_per_s": rate,
        "minutes": settings.minutes,
        "intervals": intervals(arrivals, client, started, settings.interval_s),
        "totals": totals(arrivals, client),
        "footprint": {
            "start": samples[0].figures(),
            "end": samples[-1].figures(),
            "growth_per_hour": footprint.growth_per_hour(
                steady_from(samples, settings), samples[-1]
            ),
            "runs_over_time": [s.runs for s in samples],
            "samples": [{"at_s": s.at - started, **s.figures()} for s in samples],
        },
    }


def steady_from(samples: list[footprint.Sample], settings: SoakSettings) -> footprint.Sample:
    """The first sample once a full retention window is stored and purged as it goes (the
    retention, plus two sweeps); the middle one when the run ends before that."""
    steady = parse_go_duration(settings.retention) + 2 * parse_go_duration(
        settings.retention_interval
    )
    at = samples[0].at + steady.total_seconds()
    later = [sample for sample in samples[:-1] if sample.at >= at]
    return later[0] if later else samples[len(samples) // 2]


def intervals(
    arrivals: Arrivals, client: ApiOrders, started: float, interval_s: float
) -> list[Figures]:
    """Per interval of placing: the orders, how they fared, and their latencies."""
    buckets: dict[int, list[str]] = {}
    for order_id, placed in arrivals.placed_at.items():
        buckets.setdefault(int((placed - started) // interval_s), []).append(order_id)
    rows = []
    for number in sorted(buckets):
        order_ids = buckets[number]
        placements = [client.placements.get(order_id) for order_id in order_ids]
        latencies = [
            (arrivals.ended[i][0] - arrivals.placed_at[i]) * 1000
            for i in order_ids
            if i in arrivals.ended and arrivals.ended[i][1] == EventType.ORDER_COMPLETED
        ]
        rows.append(
            {
                "from_s": number * interval_s,
                "placed": len(order_ids),
                "accepted": sum(p is not None and p.accepted for p in placements),
                "failed_calls": sum(len(p.failures) for p in placements if p is not None),
                "completed": len(latencies),
                "ended_otherwise": sum(
                    i in arrivals.ended and arrivals.ended[i][1] != EventType.ORDER_COMPLETED
                    for i in order_ids
                ),
                "p50_ms": percentile(latencies, 0.5) if latencies else None,
                "p99_ms": percentile(latencies, 0.99) if latencies else None,
            }
        )
    return rows


def totals(arrivals: Arrivals, client: ApiOrders) -> Figures:
    placements = list(client.placements.values())
    return {
        "placed": len(arrivals.placed_at),
        "accepted": sum(p.accepted for p in placements),
        "not_accepted": sum(not p.accepted for p in placements),
        "failed_calls": sum(len(p.failures) for p in placements),
        "failure_reasons": dict(Counter(why for p in placements for _, why in p.failures)),
        "outcomes": dict(Counter(kind for _, kind in arrivals.ended.values())),
        "unfinished": arrivals.outstanding(),
    }


def measure(settings: SoakSettings, work: Path = OUT_DIR / "soak") -> Figures:
    shutil.rmtree(work, ignore_errors=True)
    platform = Platform(
        work,
        PlatformSettings(
            step_timeout_seconds=120.0,
            inventory_seed=SEED,
            log_level="warn",
            run_retention=settings.retention,
            run_retention_interval=settings.retention_interval,
        ),
    ).start()
    try:
        capacity = OrderBench(platform).burst(CAPACITY_ORDERS, "capacity")["orders_per_s"]
        rate = settings.rate or capacity / 2
        print(f"capacity {capacity:.1f} orders/s; soaking at {rate:.2f}/s", flush=True)
        figures = soak(platform, settings, rate)
        platform.check_running()
    finally:
        platform.close()
    figures["capacity_per_s"] = capacity
    figures["setup"] = (
        f"dapr.yaml on embedded sidecars, logs at warn, RUN_RETENTION={settings.retention} "
        f"(swept every {settings.retention_interval}); orders through POST /v1/orders at "
        f"{rate:.2f}/s for {settings.minutes:g} min"
    )
    return figures


def report(figures: Figures) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    rows = [
        (
            "from: min",
            "placed",
            "accepted",
            "completed",
            "other",
            "failed calls",
            "p50 ms",
            "p99 ms",
        ),
        *(
            (
                f"{row['from_s'] / 60:.1f}",
                str(row["placed"]),
                str(row["accepted"]),
                str(row["completed"]),
                str(row["ended_otherwise"]),
                str(row["failed_calls"]),
                ms(row["p50_ms"]),
                ms(row["p99_ms"]),
            )
            for row in figures["intervals"]
        ),
    ]
    start, end = figures["footprint"]["start"], figures["footprint"]["end"]
    growth = figures["footprint"]["growth_per_hour"]
    memory = [("process", "RSS start: MiB", "RSS end: MiB", "steady: MiB/h")] + [
        (name, f"{start['rss_mib'][name]:.1f}", f"{value:.1f}", f"{growth['rss_mib'][name]:+.1f}")
        for name, value in end["rss_mib"].items()
    ]
    files = [("file", "start: MiB", "end: MiB", "steady: MiB/h")] + [
        (
            name,
            f"{start['file_mib'].get(name, 0):.2f}",
            f"{value:.2f}",
            f"{growth['file_mib'][name]:+.2f}",
        )
        for name, value in end["file_mib"].items()
    ]
    return "\n\n".join(
        [
            format_table(rows),
            f"totals: {figures['totals']}",
            format_table(memory),
            format_table(files),
            f"workflow runs held by the orchestrator's store, per sample: "
            f"{figures['footprint']['runs_over_time']}",
        ]
    )


def main() -> None:
    settings = SoakSettings.from_env()
    load_at_start = os.getloadavg()[0]
    figures = measure(settings)
    figures["load_average"] = {"start": load_at_start, "end": os.getloadavg()[0]}
    print(figures["setup"])
    print(f"1-minute load {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print(report(figures))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / "soak.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
