"""The demo's order generator: places a mix of orders through the management API, decides
the approvals, follows every saga to its end and checks the result.

Each order has a kind, and each kind an expected end (docs/workflows.md, docs/services.md):

| kind | how | expected: outcome, failed step, compensations |
|---|---|---|
| `normal` | under the approval threshold | `completed` |
| `approved` | over the threshold; approved | `completed` |
| `approval-rejected` | over the threshold; rejected | `compensated`, `approval`, `release` |
| `unknown-sku` | one line's SKU is not in the catalogue | `rejected`, `reserve` |
| `insufficient-stock` | more units of a SKU than it has | `rejected`, `reserve` |
| `card-declined` | the test card `4000000000000002` | `compensated`, `charge`, `release` |
| `unshippable` | country not in `SHIPPING_COUNTRIES` | `compensated`, `ship`, `refund, release` |

Orders go through `POST /v1/orders` (published on `orders`, as an upstream system does),
decisions through `POST /v1/approvals/{id}/approve|reject` (the `approval_decision` event
the `approvals` topic raises too), and progress is read with `GET /v1/runs/order-<id>`.

At the end the summary checks three things: every saga is terminal (none stuck past the
deadline), every outcome is its kind's, and stock is conserved: per SKU,
`available + reserved` did not change, and `reserved` grew by exactly the units of the
orders that completed (a completed order keeps its stock reserved; every other order
holds none).

`python -m services.demo.generator --api-url URL` runs it against a platform that is
already running (`make run`); `python -m services.demo` (`make demo`) starts one first.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from tabulate import tabulate

from sagactl.api_client import ApiCallFailed, CannotConnect, SagaApi
from services.contracts.messages import Address, OrderLine, OrderPlaced
from services.contracts.names import saga_instance_id

GOOD_CARD = "4242424242424242"
DECLINE_CARD = "4000000000000002"  # always declines (docs/services.md)
UNKNOWN_SKU = "NO-SUCH-SKU"
TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED"})
_OUTCOMES = frozenset({"completed", "rejected", "compensated", "compensation_failed"})
# Shipping addresses by country; `BR` is outside the platform's default SHIPPING_COUNTRIES.
ADDRESSES: Mapping[str, Address] = {
    "US": Address(line1="1 Main Street", city="Springfield", postal_code="62701", country="US"),
    "CA": Address(line1="200 Bay Street", city="Toronto", postal_code="M5J 2J5", country="CA"),
    "GB": Address(line1="10 Downing Street", city="London", postal_code="SW1A 2AA", country="GB"),
    "DE": Address(line1="Unter den Linden 1", city="Berlin", postal_code="10117", country="DE"),
    "FR": Address(line1="1 Rue de Rivoli", city="Paris", postal_code="75001", country="FR"),
    "NL": Address(line1="Damrak 1", city="Amsterdam", postal_code="1012 LG", country="NL"),
}
UNSHIPPABLE_ADDRESS = Address(
    line1="Avenida Paulista 1000", city="Sao Paulo", postal_code="01310-100", country="BR"
)
CUSTOMERS = ("cust-alice", "cust-bob", "cust-carol", "cust-dave", "cust-erin", "cust-frank")
APPROVER = "alice"
REJECTER = "bob"
REJECT_REASON = "over the customer's credit limit"


class Kind(StrEnum):
    NORMAL = "normal"
    APPROVED = "approved"
    APPROVAL_REJECTED = "approval-rejected"
    UNKNOWN_SKU = "unknown-sku"
    INSUFFICIENT_STOCK = "insufficient-stock"
    CARD_DECLINED = "card-declined"
    UNSHIPPABLE = "unshippable"


@dataclass(frozen=True)
class Expected:
    outcome: str
    failed_step: str | None = None
    compensations: tuple[str, ...] = ()
    approval: str | None = None


EXPECTED: Mapping[Kind, Expected] = {
    Kind.NORMAL: Expected("completed"),
    Kind.APPROVED: Expected("completed", approval="approved"),
    Kind.APPROVAL_REJECTED: Expected("compensated", "approval", ("release",), "rejected"),
    Kind.UNKNOWN_SKU: Expected("rejected", "reserve"),
    Kind.INSUFFICIENT_STOCK: Expected("rejected", "reserve"),
    Kind.CARD_DECLINED: Expected("compensated", "charge", ("release",)),
    Kind.UNSHIPPABLE: Expected("compensated", "ship", ("refund", "release")),
}
# Share of each failing or approval kind in a large mix; `normal` takes the rest. With
# fewer orders than kinds, the kinds come in this order.
_SHARES: Mapping[Kind, float] = {
    Kind.APPROVED: 0.13,
    Kind.APPROVAL_REJECTED: 0.03,
    Kind.UNKNOWN_SKU: 0.05,
    Kind.INSUFFICIENT_STOCK: 0.05,
    Kind.CARD_DECLINED: 0.07,
    Kind.UNSHIPPABLE: 0.07,
}
_PRIORITY = (
    Kind.NORMAL,
    Kind.APPROVED,
    Kind.APPROVAL_REJECTED,
    Kind.UNKNOWN_SKU,
    Kind.CARD_DECLINED,
    Kind.UNSHIPPABLE,
    Kind.INSUFFICIENT_STOCK,
)
# Kinds whose reservation succeeds (and may be held at the same time as the others').
_RESERVING = frozenset(
    {Kind.NORMAL, Kind.APPROVED, Kind.APPROVAL_REJECTED, Kind.CARD_DECLINED, Kind.UNSHIPPABLE}
)


class DemoError(Exception):
    """The demo cannot go on (no stock to order from, the API gone)."""


@dataclass(frozen=True)
class Stock:
    available: int
    reserved: int

    @property
    def total(self) -> int:
        return self.available + self.reserved


@dataclass(frozen=True)
class DemoOrder:
    kind: Kind
    order: OrderPlaced

    @property
    def order_id(self) -> str:
        return self.order.order_id

    @property
    def saga_id(self) -> str:
        return saga_instance_id(self.order.order_id)


# --- planning (pure) --------------------------------------------------------------------


def mix(count: int) -> collections.Counter[Kind]:
    """How many orders of each kind: every kind at least once when `count` allows."""
    if count < 1:
        raise ValueError("at least one order")
    if count < len(_PRIORITY):
        return collections.Counter(_PRIORITY[:count])
    counts = collections.Counter(
        {kind: max(1, round(count * share)) for kind, share in _SHARES.items()}
    )
    counts[Kind.NORMAL] = count - sum(counts.values())
    return counts


def build_orders(
    count: int,
    run_id: str,
    stock: Mapping[str, Stock],
    *,
    approval_threshold_cents: int = 100_000,
    payment_limit_cents: int = 500_000,
    seed: int | None = None,
) -> list[DemoOrder]:
    """`count` orders in a shuffled mix of kinds, ids `<run_id>-01`, ... Quantities are
    chosen so that all the orders that reserve can hold their stock at the same time,
    whatever order they run in, so each kind's outcome does not depend on timing."""
    rng = random.Random(seed)
    kinds = list(mix(count).elements())
    rng.shuffle(kinds)
    room = {sku: level.available for sku, level in sorted(stock.items()) if level.available > 0}
    if not room:
        raise DemoError("the inventory has no stock to order from")
    # Under the threshold with room to spare: at most 2 lines of at most 3 units.
    small_price = max(100, approval_threshold_cents * 8 // 10 // 6)
    big_low = approval_threshold_cents + max(approval_threshold_cents // 5, 1)
    big_high = max(big_low, min(approval_threshold_cents * 3, payment_limit_cents * 9 // 10))

    def take(lines: int, most: int) -> list[tuple[str, int]]:
        """`lines` distinct SKUs with `1..most` units each, within what is left of them."""
        picked: list[tuple[str, int]] = []
        for sku in rng.sample(sorted(room), k=len(room)):
            if len(picked) == lines:
                break
            if room[sku] >= 1:
                quantity = rng.randint(1, min(most, room[sku]))
                room[sku] -= quantity
                picked.append((sku, quantity))
        if not picked:
            raise DemoError(
                "not enough stock left for the demo's orders (start from a fresh data folder)"
            )
        return picked

    orders = []
    for index, kind in enumerate(kinds, start=1):
        card, address = GOOD_CARD, ADDRESSES[rng.choice(sorted(ADDRESSES))]
        if kind in (Kind.APPROVED, Kind.APPROVAL_REJECTED):
            ((sku, _),) = take(1, 1)
            lines = [(sku, 1, rng.randint(big_low, big_high))]
        elif kind == Kind.UNKNOWN_SKU:
            sku = rng.choice(sorted(stock))
            lines = [
                (sku, 1, rng.randint(min(500, small_price), small_price)),
                (UNKNOWN_SKU, 1, 999),
            ]
        elif kind == Kind.INSUFFICIENT_STOCK:
            sku = min(stock, key=lambda s: (stock[s].available, s))
            if stock[sku].available >= 1000:
                raise DemoError(f"{sku} has too much stock for an order to exceed it")
            lines = [(sku, stock[sku].available + 1, 100)]
        else:
            lines = [
                (sku, qty, rng.randint(min(500, small_price), small_price))
                for sku, qty in take(2, 3)
            ]
            if kind == Kind.CARD_DECLINED:
                card = DECLINE_CARD
            elif kind == Kind.UNSHIPPABLE:
                address = UNSHIPPABLE_ADDRESS
        order = OrderPlaced(
            order_id=f"{run_id}-{index:02d}",
            customer_id=rng.choice(CUSTOMERS),
            items=[OrderLine(sku=s, quantity=q, unit_price_cents=p) for s, q, p in lines],
            currency="USD",
            card_number=card,
            shipping_address=address,
        )
        orders.append(DemoOrder(kind, order))
    return orders


# --- judging (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class OrderReport:
    order_id: str
    kind: str
    expected: str
    status: str  # the run's status, or "NOT_STARTED"
    outcome: str | None
    failed_step: str | None
    compensations: list[str]
    approval: str | None
    seconds: float | None  # the run's creation to its last update
    problem: str | None


def judge(demo: DemoOrder, run: Mapping[str, Any] | None) -> OrderReport:
    """How one order ended, against its kind's expectation."""
    expected = EXPECTED[demo.kind]
    output = run.get("output") if run else None
    result: Mapping[str, Any] = output if isinstance(output, Mapping) else {}
    status = str(run["status"]) if run else "NOT_STARTED"
    outcome = result.get("outcome")
    report = OrderReport(
        order_id=demo.order_id,
        kind=str(demo.kind),
        expected=expected.outcome,
        status=status,
        outcome=outcome,
        failed_step=result.get("failedStep"),
        compensations=list(result.get("compensations") or []),
        approval=result.get("approval"),
        seconds=_duration(run),
        problem=None,
    )
    problem = None
    if status not in TERMINAL:
        problem = f"stuck: {status} at the deadline"
    elif status != "COMPLETED":
        failure = (run or {}).get("failure") or {}
        problem = f"the workflow ended {status}: {failure.get('message', '')}".rstrip(": ")
    elif outcome != expected.outcome:
        problem = f"outcome {outcome}, expected {expected.outcome}"
    elif report.failed_step != expected.failed_step:
        problem = f"failed at {report.failed_step}, expected {expected.failed_step}"
    elif tuple(report.compensations) != expected.compensations:
        problem = f"compensations {report.compensations}, expected {list(expected.compensations)}"
    elif report.approval != expected.approval:
        problem = f"approval {report.approval}, expected {expected.approval}"
    return OrderReport(**{**asdict(report), "problem": problem})


def _duration(run: Mapping[str, Any] | None) -> float | None:
    if not run or not run.get("createdAt") or not run.get("lastUpdatedAt"):
        return None
    try:
        created = datetime.fromisoformat(str(run["createdAt"]))
        updated = datetime.fromisoformat(str(run["lastUpdatedAt"]))
    except ValueError:
        return None
    return max((updated - created).total_seconds(), 0.0)


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
    """Per SKU: the levels before and after, and the units the completed orders hold."""
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
    """Conservation: `available + reserved` unchanged, and `reserved` grown by exactly the
    completed orders' units (what failed orders reserved was released). The second check
    needs every saga ended: an unfinished one may hold a reservation."""
    problems = []
    for r in reports:
        if r.after.total != r.before.total:
            problems.append(
                f"{r.sku}: available + reserved was {r.before.total}, is {r.after.total}"
            )
        grown = r.after.reserved - r.before.reserved
        if all_ended and grown != r.completed_units:
            problems.append(
                f"{r.sku}: reserved grew by {grown}, the completed orders hold {r.completed_units}"
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
        return [r.order_id for r in self.orders if r.status not in TERMINAL]

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
            f"available + reserved {'unchanged' if not summary.stock_problems else 'CHANGED'}; "
            f"what stays reserved not checked, {len(summary.stuck)} saga(s) unfinished."
        )
    elif summary.stock_problems:
        verdict = "NOT conserved (see below)."
    else:
        verdict = (
            f"available + reserved unchanged; reserved grew by exactly the {units} units "
            f"the {completed} completed orders hold."
        )
    lines.append(f"Stock of the {len(summary.stock)} SKUs: {verdict}")
    if touched:
        lines += [
            "",
            tabulate(
                [
                    [
                        s.sku,
                        f"{s.before.available} / {s.before.reserved}",
                        f"{s.after.available} / {s.after.reserved}",
                        s.completed_units,
                    ]
                    for s in touched
                ],
                headers=["SKU", "BEFORE avail / res", "AFTER avail / res", "COMPLETED UNITS"],
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


# --- driving the platform ---------------------------------------------------------------


@dataclass
class Tracked:
    demo: DemoOrder
    due: float  # seconds after the start when it is placed
    placed_at: float | None = None
    stage: str = "pending"  # pending, queued, a saga step, then the outcome
    run: dict[str, Any] | None = None
    approval_seen_at: float | None = None
    decided: bool = False

    @property
    def terminal(self) -> bool:
        return self.run is not None and str(self.run.get("status")) in TERMINAL


@dataclass(frozen=True)
class Settings:
    orders: int = 30
    rate: float = 3.0  # orders placed per second
    approval_delay: float = 3.0  # seconds a "person" takes to decide
    deadline: float = 120.0  # seconds after the last order for every saga to end
    approval_threshold_cents: int = 100_000
    payment_limit_cents: int = 500_000
    seed: int | None = None
    tick: float = 0.4


@dataclass
class Progress:
    """What the view shows: the tracked orders and the recent events."""

    run_id: str
    api_url: str
    started: float
    tracked: list[Tracked]
    events: collections.deque[tuple[float, str]] = field(
        default_factory=lambda: collections.deque(maxlen=10)
    )

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def event(self, text: str) -> None:
        self.events.append((self.elapsed, text))


class View:
    """Receives the progress; this base view only records the events (the terminal views
    are in `services.demo.view`)."""

    def update(self, progress: Progress) -> None:
        pass

    def event(self, progress: Progress, text: str) -> None:
        progress.event(text)

    def close(self, progress: Progress) -> None:
        pass


def read_stock(api: SagaApi) -> dict[str, Stock]:
    items = api.stock(None)["items"]
    return {
        str(item["sku"]): Stock(int(item["available"]), int(item.get("reserved", 0)))
        for item in items
    }


def run_demo(
    api: SagaApi,
    settings: Settings,
    *,
    api_url: str,
    run_id: str | None = None,
    view: View | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> Summary:
    """Places the orders, decides the approvals, follows the sagas, and checks the end."""
    view = view or View()
    run_id = run_id or f"demo-{time.strftime('%H%M%S')}"
    before = read_stock(api)
    orders = build_orders(
        settings.orders,
        run_id,
        before,
        approval_threshold_cents=settings.approval_threshold_cents,
        payment_limit_cents=settings.payment_limit_cents,
        seed=settings.seed,
    )
    interval = 1.0 / settings.rate if settings.rate > 0 else 0.0
    progress = Progress(
        run_id,
        api_url,
        time.monotonic(),
        [Tracked(demo, due=i * interval) for i, demo in enumerate(orders)],
    )
    deadline: float | None = None
    last_placed = 0.0
    while True:
        if not alive():
            raise DemoError("the platform stopped")
        now = progress.elapsed
        for item in progress.tracked:
            if item.placed_at is None and item.due <= now:
                _place(api, item)
                item.placed_at = last_placed = progress.elapsed
                item.stage = "queued"
        if all(item.placed_at is not None for item in progress.tracked) and deadline is None:
            deadline = last_placed + settings.deadline
        _decide_approvals(api, progress, settings, view)
        _follow(api, progress, view)
        view.update(progress)
        if deadline is not None and all(item.terminal for item in progress.tracked):
            break
        if deadline is not None and progress.elapsed > deadline:
            view.event(progress, f"deadline: {settings.deadline:g}s after the last order passed")
            break
        _pause(progress, settings.tick)
    view.close(progress)
    finished = progress.elapsed
    reports = [judge(item.demo, item.run) for item in progress.tracked]
    stock = stock_reports(before, read_stock(api), reports, orders)
    return Summary(
        run_id=run_id,
        orders=reports,
        stock=stock,
        stock_problems=stock_problems(stock, all_ended=all(r.status in TERMINAL for r in reports)),
        seconds=finished,
        placing_seconds=last_placed,
    )


def _pause(progress: Progress, tick: float) -> None:
    """Sleeps until the next multiple of `tick` since the start: a steady pace of polling
    rounds, however long a round took."""
    time.sleep(max(0.0, tick - (progress.elapsed % tick)))


def _place(api: SagaApi, item: Tracked) -> None:
    """Places an order; a duplicate publish is harmless (the orchestrator starts one saga
    per order id), so transient API failures are retried."""
    for attempt in range(5):
        try:
            api.place_order(item.demo.order.to_data())
            return
        except CannotConnect as error:
            failure: Exception = error
        except ApiCallFailed as error:
            if error.status < 500:
                raise DemoError(f"order {item.demo.order_id} refused: {error}") from None
            failure = error
        time.sleep(0.2 * 2**attempt)
    raise DemoError(f"cannot place order {item.demo.order_id}: {failure}")


def _decide_approvals(api: SagaApi, progress: Progress, settings: Settings, view: View) -> None:
    waiting = {
        item.demo.order_id: item
        for item in progress.tracked
        if item.demo.kind in (Kind.APPROVED, Kind.APPROVAL_REJECTED)
        and item.placed_at is not None
        and not item.decided
        and not item.terminal
    }
    if not waiting:
        return
    try:
        pending = {str(a["orderId"]): a for a in api.approvals()["items"]}
    except (ApiCallFailed, CannotConnect):
        return  # polled again next round
    for order_id, item in waiting.items():
        if order_id not in pending:
            continue
        if item.approval_seen_at is None:
            item.approval_seen_at = progress.elapsed
            amount = int(pending[order_id].get("amountCents") or 0)
            view.event(progress, f"{order_id} waits for approval (${amount / 100:,.2f})")
        if progress.elapsed - item.approval_seen_at < settings.approval_delay:
            continue
        try:
            if item.demo.kind == Kind.APPROVED:
                api.approve(order_id, APPROVER)
                text = f"{order_id} approved by {APPROVER}"
            else:
                api.reject(order_id, REJECTER, REJECT_REASON)
                text = f"{order_id} rejected by {REJECTER}: {REJECT_REASON}"
        except ApiCallFailed as error:
            if error.code != "APPROVAL_NOT_PENDING":
                continue  # tried again next round
            text = f"{order_id}: approval no longer pending"
        except CannotConnect:
            continue
        item.decided = True
        view.event(progress, text)


def _follow(api: SagaApi, progress: Progress, view: View) -> None:
    for item in progress.tracked:
        if item.placed_at is None or item.terminal:
            continue
        try:
            run = api.get_run(item.demo.saga_id)
        except (ApiCallFailed, CannotConnect):
            # WORKFLOW_NOT_FOUND: the orders subscription has not started it yet; anything
            # else may pass: asked again next round, until the deadline.
            continue
        item.run = run
        item.stage = _stage(run)
        if item.terminal:
            expected = EXPECTED[item.demo.kind].outcome
            mark = "" if item.stage == expected else f"  (expected {expected})"
            view.event(progress, f"{item.demo.order_id} {item.demo.kind}: {item.stage}{mark}")


def _stage(run: Mapping[str, Any]) -> str:
    status = str(run.get("status"))
    output = run.get("output")
    if status == "COMPLETED" and isinstance(output, Mapping) and output.get("outcome"):
        return str(output["outcome"])
    if status in TERMINAL:
        return status.lower()
    custom = run.get("customStatus")
    if isinstance(custom, Mapping) and custom.get("step"):
        step = str(custom["step"])
        # The saga sets its outcome as its status, then publishes the status event.
        return "finishing" if step in _OUTCOMES else step
    return "started"


# --- command line -----------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--orders", type=int, default=Settings.orders, help="how many (default 30)")
    p.add_argument(
        "--rate", type=float, default=Settings.rate, help="orders per second (default 3)"
    )
    p.add_argument(
        "--approval-delay",
        type=float,
        default=Settings.approval_delay,
        help="seconds before the generator decides a pending approval (default 3)",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=Settings.deadline,
        help="seconds after the last order for every saga to end (default 120)",
    )
    p.add_argument("--seed", type=int, default=None, help="a fixed mix and order contents")
    p.add_argument(
        "--view",
        choices=("auto", "live", "plain"),
        default="auto",
        help="live: a table redrawn in place (the default on a terminal); plain: lines",
    )
    p.add_argument("--summary-json", type=Path, help="also write the summary as JSON here")


def settings_from(args: argparse.Namespace, threshold: int, limit: int) -> Settings:
    return Settings(
        orders=args.orders,
        rate=args.rate,
        approval_delay=args.approval_delay,
        deadline=args.deadline,
        approval_threshold_cents=threshold,
        payment_limit_cents=limit,
        seed=args.seed,
    )


def report(summary: Summary, summary_json: Path | None) -> int:
    """Prints the summary (and writes it as JSON when asked); the exit code it means."""
    print(render_summary(summary), flush=True)
    if summary_json is not None:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(summary.to_data(), indent=2) + "\n")
    return 0 if summary.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    from services.demo.view import make_view

    p = argparse.ArgumentParser(
        prog="python -m services.demo.generator",
        description="Place a mix of orders on a running platform, follow the sagas, check.",
    )
    p.add_argument("--api-url", default="http://127.0.0.1:8080")
    p.add_argument("--token", default=None)
    p.add_argument("--approval-threshold-cents", type=int, default=100_000)
    p.add_argument("--payment-limit-cents", type=int, default=500_000)
    add_arguments(p)
    args = p.parse_args(argv)
    settings = settings_from(args, args.approval_threshold_cents, args.payment_limit_cents)
    with SagaApi(args.api_url, args.token, timeout=10) as api:
        try:
            summary = run_demo(api, settings, api_url=args.api_url, view=make_view(args.view))
        except (DemoError, CannotConnect, ApiCallFailed) as error:
            print(f"generator: error: {error}", file=sys.stderr)
            return 1
    return report(summary, args.summary_json)


if __name__ == "__main__":
    sys.exit(main())
