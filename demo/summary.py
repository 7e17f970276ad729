"""The end of a demo: per order how it ended against its kind, the stock check, the verdict.

The summary checks three things: every saga is terminal (none stuck past the deadline),
every outcome is its kind's, and stock is conserved: per SKU, `available + reserved +
shipped` did not change, `shipped` grew by exactly the units of the orders that completed
(a shipment consumes its reservation), and `reserved` is back where it was (every other
order released what it held).
"""

from __future__ import annotations

import collections
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from demo.orders import DemoOrder
from demo.outcomes import OrderReport
from demo.scenarios import Kind
from demo.stock import Stock
from services.contracts.topology import TERMINAL_RUNTIME_STATUSES


@dataclass(frozen=True)
class StockReport:
    sku: str
    before: Stock
    after: Stock
    completed_units: int


def stock_reports(
    before: Mapping[str, Stock],
    after: Mapping[str, Stock],
    reports: Sequence[OrderReport],
    orders: Sequence[DemoOrder],
) -> list[StockReport]:
    """Per SKU: the levels before and after, and the units the completed orders bought."""
    completed = {r.order_id for r in reports if r.outcome == "completed"}
    units: collections.Counter[str] = collections.Counter()
    for demo in orders:
        if demo.order_id in completed:
            for line in demo.order.items:
                units[line.sku] += line.quantity
    skus = sorted(set(before) | set(after))
    empty = Stock(0, 0)
    return [
        StockReport(sku, before.get(sku, empty), after.get(sku, empty), units[sku]) for sku in skus
    ]


def stock_problems(reports: Iterable[StockReport], *, all_ended: bool = True) -> list[str]:
    """Conservation: `available + reserved + shipped` unchanged, `shipped` grown by exactly
    the completed orders' units, and `reserved` as it was (what failed orders reserved was
    released). The last two need every saga ended: an unfinished one may hold a
    reservation, or be about to commit it."""
    problems = []
    for r in reports:
        if r.after.total != r.before.total:
            problems.append(
                f"{r.sku}: available + reserved + shipped was {r.before.total}, is {r.after.total}"
            )
        if not all_ended:
            continue
        shipped = r.after.shipped - r.before.shipped
        if shipped != r.completed_units:
            problems.append(
                f"{r.sku}: shipped grew by {shipped}, the completed orders bought "
                f"{r.completed_units}"
            )
        if r.after.reserved != r.before.reserved:
            problems.append(
                f"{r.sku}: reserved went from {r.before.reserved} to {r.after.reserved} "
                "with every saga ended"
            )
    return problems


@dataclass(frozen=True)
class Summary:
    run_id: str
    orders: list[OrderReport]
    stock: list[StockReport]
    stock_problems: list[str]
    seconds: float  # first order placed to the last saga seen terminal
    placing_seconds: float

    @property
    def stuck(self) -> list[str]:
        return [r.order_id for r in self.orders if r.status not in TERMINAL_RUNTIME_STATUSES]

    @property
    def problems(self) -> list[str]:
        return [f"{r.order_id} ({r.kind}): {r.problem}" for r in self.orders if r.problem] + list(
            self.stock_problems
        )

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_data(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "orders": [asdict(r) for r in self.orders],
            "outcomes": dict(collections.Counter(str(r.outcome) for r in self.orders)),
            "kinds": dict(collections.Counter(r.kind for r in self.orders)),
            "stuck": self.stuck,
            "stock": [
                {
                    "sku": s.sku,
                    "before": asdict(s.before),
                    "after": asdict(s.after),
                    "completedUnits": s.completed_units,
                }
                for s in self.stock
            ],
            "problems": self.problems,
        }


def render_summary(summary: Summary) -> str:
    """The summary for people: outcomes per kind with timing, the stock, the verdict."""
    by_kind: dict[str, list[OrderReport]] = collections.defaultdict(list)
    for report in summary.orders:
        by_kind[report.kind].append(report)
    rows = []
    for kind in Kind:
        reports = by_kind.get(str(kind))
        if not reports:
            continue
        seconds = [r.seconds for r in reports if r.seconds is not None]
        timing = f"{statistics.median(seconds):.1f}s / {max(seconds):.1f}s" if seconds else "-"
        rows.append(
            [
                kind,
                len(reports),
                _counted(r.outcome or r.status.lower() for r in reports),
                _counted(r.failed_step or "-" for r in reports),
                _counted(", ".join(r.compensations) or "-" for r in reports),
                timing,
                f"{sum(1 for r in reports if not r.problem)}/{len(reports)}",
            ]
        )
    total = len(summary.orders)
    lines = [
        f"Summary of demo {summary.run_id}: {total} orders placed over "
        f"{summary.placing_seconds:.1f}s; "
        + (
            f"gave up waiting {summary.seconds:.1f}s after the first order."
            if summary.stuck
            else f"the last saga ended {summary.seconds:.1f}s after the first order."
        ),
        "",
        tabulate(
            rows,
            headers=[
                "KIND",
                "ORDERS",
                "OUTCOME",
                "FAILED STEP",
                "COMPENSATIONS",
                "SAGA TIME p50 / MAX",
                "AS EXPECTED",
            ],
            tablefmt="simple",
        ),
        "",
    ]
    touched = [s for s in summary.stock if s.completed_units or s.before != s.after]
    completed = sum(1 for r in summary.orders if r.outcome == "completed")
    units = sum(s.completed_units for s in summary.stock)
    if summary.stuck:
        verdict = (
            "available + reserved + shipped "
            f"{'unchanged' if not summary.stock_problems else 'CHANGED'}; what stays "
            f"reserved not checked, {len(summary.stuck)} saga(s) unfinished."
        )
    elif summary.stock_problems:
        verdict = "NOT conserved (see below)."
    else:
        verdict = (
            f"available + reserved + shipped unchanged; exactly the {units} units the "
            f"{completed} completed orders bought shipped, none stays reserved."
        )
    lines.append(f"Stock of the {len(summary.stock)} SKUs: {verdict}")
    if touched:
        lines += [
            "",
            tabulate(
                [
                    [
                        s.sku,
                        f"{s.before.available} / {s.before.reserved} / {s.before.shipped}",
                        f"{s.after.available} / {s.after.reserved} / {s.after.shipped}",
                        s.completed_units,
                    ]
                    for s in touched
                ],
                headers=[
                    "SKU",
                    "BEFORE avail / res / shipped",
                    "AFTER avail / res / shipped",
                    "COMPLETED UNITS",
                ],
                tablefmt="simple",
            ),
        ]
    lines.append("")
    if summary.ok:
        lines.append(f"OK: all {total} sagas terminal, every outcome as expected, stock conserved.")
    else:
        lines.append(f"FAILED: {len(summary.problems)} problem(s):")
        lines += [f"  - {problem}" for problem in summary.problems]
    return "\n".join(lines)


def _counted(values: Iterable[str]) -> str:
    counts = collections.Counter(values)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{value} x{n}" for value, n in counts.most_common())


def report(summary: Summary, summary_json: Path | None) -> int:
    """Prints the summary (and writes it as JSON when asked); the exit code it means."""
    print(render_summary(summary), flush=True)
    if summary_json is not None:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(summary.to_data(), indent=2) + "\n")
    return 0 if summary.ok else 1
