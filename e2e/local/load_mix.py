"""The load tests' order mix and how each kind of order must end, shared by the load test
(`test_load.py`), the chaos test (`test_chaos.py`) and `make bench`'s chaos run.

A deterministic mix of plain orders, orders that need an approval, and orders that fail at
each step (an unknown SKU, a SKU with less stock than the orders competing for it, the
declining card, a country the shipping service does not serve); the settings give every
step far more time than a correct run needs, so a crash slows a run without changing how
an order ends. `unexpected_outcomes` holds the runs' outputs against that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from e2e.local.harness import Platform
from e2e.local.orders import UNSHIPPABLE_COUNTRY, Line, card_number, order
from services.contracts.messages import OrderPlaced
from services.contracts.topology import DECLINING_TEST_CARD
from testkit.platform import PlatformSettings

THRESHOLD_CENTS = 100_000
SCARCE_STOCK = 5
SEED = {"LOAD-A": 1_000, "LOAD-B": 1_000, "LOAD-C": 1_000, "LOAD-SCARCE": SCARCE_STOCK}
# Timeouts far above what a correct run needs, even with a crash in it (the retries of an
# undelivered command back off to 5 s): a slow run still ends as it should.
SETTINGS = PlatformSettings(
    approval_threshold_cents=THRESHOLD_CENTS,
    step_timeout_seconds=90.0,
    approval_timeout_seconds=120.0,
    compensation_attempts=5,
    compensation_timeout_seconds=30.0,
    inventory_seed=SEED,
)

Kind = Literal["plain", "approval", "unknown_sku", "scarce", "declined", "unshippable"]
# How each kind of order ends; a scarce order completes while stock lasts.
EXPECTED: dict[Kind, tuple[str, str | None]] = {
    "plain": ("completed", None),
    "approval": ("completed", None),
    "unknown_sku": ("rejected", "reserve"),
    "declined": ("compensated", "charge"),
    "unshippable": ("compensated", "ship"),
}


@dataclass(frozen=True)
class LoadOrder:
    kind: Kind
    card: str  # the card the order pays with, tokenized: `placed` carries its token
    placed: OrderPlaced

    @property
    def order_id(self) -> str:
        return self.placed.order_id


def load_orders(tokenize: Callable[[str], str], count: int) -> list[LoadOrder]:
    """A deterministic mix: per 20 orders, 2 need approval, 2 decline, 2 cannot ship,
    1 names an unknown SKU, 1 competes for the scarce SKU, 12 are plain. Each order pays
    with a card of its own (the declined ones with the declining test card), each card
    tokenized by `tokenize` on its own, as a shop does at checkout."""
    orders = []
    for i in range(count):
        order_id = f"load-{i:03d}"
        plain: list[Line] = [("LOAD-A", 1 + i % 3, 1_250), ("LOAD-B", 1, 999)]
        if i % 3 == 0:
            plain.append(("LOAD-C", 2, 500))
        slot = i % 20
        card = DECLINING_TEST_CARD if slot in (1, 11) else card_number(i)
        token = tokenize(card)
        if slot in (0, 10):
            kind: Kind = "approval"
            lines = [("LOAD-C", 1, THRESHOLD_CENTS + 1_000 * (i + 1))]
            placed = order(order_id, lines, token=token)
        elif slot in (1, 11):
            kind, placed = "declined", order(order_id, plain, token=token)
        elif slot in (2, 12):
            kind = "unshippable"
            placed = order(order_id, plain, token=token, country=UNSHIPPABLE_COUNTRY)
        elif slot == 3:
            kind, placed = (
                "unknown_sku",
                order(order_id, [*plain, ("LOAD-NOPE", 1, 100)], token=token),
            )
        elif slot == 13:
            kind, placed = "scarce", order(order_id, [("LOAD-SCARCE", 1, 4_000)], token=token)
        else:
            kind, placed = "plain", order(order_id, plain, token=token)
        orders.append(LoadOrder(kind, card, placed))
    return orders


def all_runs(platform: Platform, **query: str) -> list[dict[str, Any]]:
    """`GET /v1/runs`, every page."""
    runs: list[dict[str, Any]] = []
    params = {"pageSize": "500", **query}
    while True:
        response = platform.api.get("/v1/runs", params=params)
        response.raise_for_status()
        page = response.json()
        runs.extend(page["items"])
        if not page.get("continuationToken"):
            return runs
        params["continuationToken"] = page["continuationToken"]


def no_run_left_running(platform: Platform) -> bool:
    listing = platform.cli(
        "workflow", "list", "--filter-status", "RUNNING,PENDING,SUSPENDED", "-o", "json"
    )
    return bool(listing.json() == [])


def unexpected_outcomes(orders: Sequence[LoadOrder], outputs: Mapping[str, Any]) -> list[str]:
    """Each order whose saga output (by order id) is not what its kind must give, in words;
    the scarce orders complete while the scarce stock lasts, and are rejected after."""
    problems = []
    for o in orders:
        if o.kind == "scarce":
            continue
        outcome, failed_step = EXPECTED[o.kind]
        output = outputs[o.order_id]
        if (output["outcome"], output.get("failedStep")) != (outcome, failed_step):
            problems.append(f"{o.order_id} ({o.kind}): {output}")
    scarce = Counter(outputs[o.order_id]["outcome"] for o in orders if o.kind == "scarce")
    if scarce["completed"] != min(SCARCE_STOCK, sum(scarce.values())) or not set(scarce) <= {
        "completed",
        "rejected",
    }:
        problems.append(f"scarce orders: {dict(scarce)}, with a stock of {SCARCE_STOCK}")
    return problems
