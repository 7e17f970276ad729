"""`make bench`, scaling part: E1 with 1, 2 and 4 replicas of each service app, and a
capacity model for a cluster; also alone as `python -m bench.scaling [REPLICAS...]`.

Replicas: the platform of `bench/e2e.py` on the embedded runtime, where inventory, payment
and shipping each run `n` times, each replica with its own sidecar (`PlatformSettings.
replicas`): competing consumers of the app's topics, as `replicaCount` gives them in the
chart. The same burst of `BURST_ORDERS` orders, orders/s and latency, and the CPU per order
of each app's replicas together.

The capacity model turns a run's CPU milliseconds per order per process into what a
cluster needs for a target rate: an app needs `rate x (app + sidecar ms per order) / 1000`
cores, so `ceil(that / cores per pod)` pods; the runtime's shared services (Redis,
placement, scheduler under daprd) need their own cores beside. It is computed from the
daprd run of `bench/e2e.py` (the runtime a cluster runs), so it holds for this host's
cores; a faster core needs fewer pods.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import e2e
from bench.report import format_table
from services.contracts.names import AppId
from testkit.platform import OBSERVER

OUT_DIR = e2e.ROOT / ".data" / "bench" / "scaling"
REPLICAS = (1, 2, 4)
# The rates and the pod size the capacity model is shown for.
RATES = (10.0, 50.0, 200.0)
CORES_PER_POD = 1.0

Figures = dict[str, Any]
# Replica n of an app is the node `<app id>-<n>` (testkit/platform.py).
_REPLICA_SUFFIX = re.compile(r"-\d+$")


def measure(replicas: tuple[int, ...] = REPLICAS, work: Path = OUT_DIR) -> Figures:
    """E1 on the embedded runtime with each number of service replicas, by that number."""
    return {
        str(count): e2e.measure_on(
            "embedded",
            work / f"replicas-{count}",
            replace(e2e.SETTINGS, replicas=count),
            idle_orders=0,
        )
        for count in replicas
    }


def per_app(cpu_ms_per_order: Mapping[str, float]) -> dict[str, float]:
    """CPU ms per order of each app id, its replicas' apps and sidecars together; a
    runtime service (`redis`, `placement`, `scheduler`) under its own name."""
    apps: dict[str, float] = {}
    for process, ms in cpu_ms_per_order.items():
        name = _REPLICA_SUFFIX.sub("", process.removesuffix(" app").removesuffix(" sidecar"))
        apps[name] = apps.get(name, 0.0) + ms
    return apps


def platform_ms(cpu_ms_per_order: Mapping[str, float]) -> float:
    """CPU ms per order of the whole platform, the bench's observer left out."""
    return sum(ms for app, ms in per_app(cpu_ms_per_order).items() if app != OBSERVER)


def capacity(
    cpu_ms_per_order: Mapping[str, float], rate: float, cores_per_pod: float = CORES_PER_POD
) -> dict[str, tuple[float, int]]:
    """(cores, pods) each app needs for `rate` orders/s; pods of `cores_per_pod`."""
    needs: dict[str, tuple[float, int]] = {}
    for app, ms in per_app(cpu_ms_per_order).items():
        if app == OBSERVER:  # the bench's downstream system, not the platform's
            continue
        cores = rate * ms / 1000
        needs[app] = (cores, max(1, math.ceil(cores / cores_per_pod)))
    return needs


def table(figures: Figures) -> str:
    counts = list(figures)
    bursts = {count: figures[count]["burst"] for count in counts}
    rows: list[tuple[str, ...]] = [
        ("replicas of each service app", *counts),
        ("E1 orders/s", *(f"{bursts[c]['orders_per_s']:.1f}" for c in counts)),
        ("E1 latency p50, ms", *(f"{bursts[c]['p50_ms']:,.0f}" for c in counts)),
        ("E1 latency p99, ms", *(f"{bursts[c]['p99_ms']:,.0f}" for c in counts)),
    ]
    apps = [str(app) for app in AppId]
    for app in apps:
        rows.append(
            (
                f"CPU ms per order, {app} (all replicas)",
                *(f"{per_app(bursts[c]['cpu_ms_per_order'])[app]:.1f}" for c in counts),
            )
        )
    rows.append(
        (
            "CPU ms per order, whole platform",
            *(f"{platform_ms(bursts[c]['cpu_ms_per_order']):.1f}" for c in counts),
        )
    )
    return format_table(rows)


def capacity_table(
    cpu_ms_per_order: Mapping[str, float],
    rates: tuple[float, ...] = RATES,
    cores_per_pod: float = CORES_PER_POD,
) -> str:
    models = {rate: capacity(cpu_ms_per_order, rate, cores_per_pod) for rate in rates}
    ms = per_app(cpu_ms_per_order)
    rows: list[tuple[str, ...]] = [
        (
            f"app (pods of {cores_per_pod:g} core)",
            "CPU ms/order",
            *(f"{rate:g} orders/s: cores, pods" for rate in rates),
        )
    ]
    for app in models[rates[0]]:
        rows.append(
            (
                app,
                f"{ms[app]:.1f}",
                *(f"{models[rate][app][0]:.1f}, {models[rate][app][1]}" for rate in rates),
            )
        )
    return format_table(rows)


def main() -> None:
    replicas = tuple(int(arg) for arg in sys.argv[1:]) or REPLICAS
    figures = measure(replicas)
    print(table(figures))


if __name__ == "__main__":
    main()
