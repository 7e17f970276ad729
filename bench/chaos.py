"""`make bench`, chaos part: the whole platform `kill -9`ed together, several times, while
orders go through the management API; then the books.

The e2e suite's chaos run (`e2e.local.chaos`) at a larger size: `ORDERS` orders of the load
mix (plain, approvals, failures at each step), placed by `CUSTOMERS` concurrent customers
through `POST /v1/orders`, with `ROUNDS` power cuts of every app and sidecar on the way, on
the embedded runtime with logs at `warn`. Reported: orders accepted and not, calls refused
while the platform was down, each cut (orders accepted, sagas under way, time down, time
to start again), how the orders ended, and the broken invariants (0 is the only good
figure). `python -m bench.chaos [ORDERS ROUNDS]` runs it alone.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.report import format_table
from e2e.local.chaos import run_chaos
from e2e.local.harness import Platform
from e2e.local.load_mix import SETTINGS, load_orders

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / ".data" / "bench" / "chaos"
ORDERS = 200
ROUNDS = 5
CUSTOMERS = 4

Figures = dict[str, Any]


def measure(orders: int = ORDERS, rounds: int = ROUNDS, work: Path = OUT_DIR) -> Figures:
    shutil.rmtree(work, ignore_errors=True)
    platform = Platform(work, replace(SETTINGS, log_level="warn")).start()
    try:
        run = run_chaos(platform, load_orders(platform.tokenize, orders), rounds, CUSTOMERS)
        platform.check_running()
    finally:
        platform.close()
    figures = run.figures()
    figures["problems"] = run.problems[:20]
    figures["setup"] = (
        f"dapr.yaml on embedded sidecars, logs at warn; {orders} orders of the load mix "
        f"through POST /v1/orders by {CUSTOMERS} customers; {rounds} cuts of every app "
        "and sidecar (the observer's too) at once"
    )
    return figures


def table(figures: Figures) -> str:
    rows = [
        ("cut", "accepted before", "sagas under way", "calls refused", "down: s", "start: s"),
        *(
            (
                str(number),
                str(cut["accepted"]),
                str(cut["in_flight"]),
                str(cut["failed_calls"]),
                f"{cut['down_s']:.1f}",
                f"{cut['start_s']:.1f}",
            )
            for number, cut in enumerate(figures["kill_rounds"], 1)
        ),
    ]
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(figures["outcomes"].items()))
    return (
        f"{format_table(rows)}\n"
        f"orders {figures['orders']}: accepted {figures['accepted']}, not accepted "
        f"{figures['not_accepted']}, failed calls retried {figures['failed_calls']}; "
        f"outcomes: {outcomes}; all placed in {figures['placing_s']:.0f}s, all ended in "
        f"{figures['settled_s']:.0f}s; broken invariants: {figures['violations']}"
    )


def main() -> None:
    """`python -m bench.chaos [ORDERS [ROUNDS]]`: the chaos run alone."""
    args = [int(arg) for arg in sys.argv[1:3]]
    orders = args[0] if args else ORDERS
    rounds = args[1] if len(args) > 1 else ROUNDS
    figures = measure(orders, rounds)
    print(figures["setup"])
    print(table(figures))
    for problem in figures["problems"]:
        print(f"  {problem}")


if __name__ == "__main__":
    main()
