"""200 concurrent orders through the whole platform, then the books must balance.

The mix: most orders succeed; some are over the approval threshold (the test approves each
as its `approval.requested` arrives, half through `approvals` messages, half through the
API); some fail at each step (an unknown SKU, a SKU with less stock than the orders that
compete for it, the declining card, a country the shipping service does not serve).

Once every order has its final status event, the invariants (`e2e.local.ledger.violations`)
are checked against the services' records: stock conserved per SKU (what completed orders
bought shipped, nothing stays reserved), each completed order charged exactly once and
shipped once, each failed order with no net charge, no held stock and no live shipment,
no saga or approval left running, no message dead-lettered. Then no card number of the
run is anywhere: every order paid with a card of its own, tokenized by the payment
service's vault, and neither a SQLite file (write-ahead logs included), nor Redis, nor a
process's log, nor the API's answers about the runs holds one (`e2e.local.card_scan`).
The same run is repeated with one process `kill -9`ed and restarted in the middle of it:
a crash may slow the run down, never change how an order ends, nor the books.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pytest

from e2e.local.card_scan import scan_platform
from e2e.local.conftest import StartPlatform
from e2e.local.harness import Platform
from e2e.local.ledger import violations
from e2e.local.load_mix import (
    SEED,
    SETTINGS,
    THRESHOLD_CENTS,
    LoadOrder,
    all_runs,
    load_orders,
    no_run_left_running,
    unexpected_outcomes,
)
from e2e.local.orders import card_number
from services.contracts.messages import ApprovalDecided
from services.contracts.names import STATESTORE, EventType, saga_instance_id
from services.contracts.topology import DEAD_LETTER_TOPICS
from testkit.platform import SERVICE_APPS, Part
from testkit.polling import wait_until
from testkit.runtimes import runtime_name

ORDERS = 200
RUN_TIMEOUT = 150.0


class Approver:
    """Approves every order whose `approval.requested` arrives, once: those of the first
    approval slot of each 20 orders through an `approvals` message, the others through the
    management API (retried at the next poll while the API cannot reach its sidecar)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.approved: set[str] = set()
        self.through_api = 0
        self.token = platform.token("load-test", ["approver"])

    def approve_new(self) -> None:
        for delivery in self.platform.observer.deliveries():
            order_id = delivery.order_id
            if delivery.type != EventType.APPROVAL_REQUESTED or order_id is None:
                continue
            if order_id in self.approved:
                continue
            if int(order_id.rsplit("-", 1)[1]) % 20 == 0:
                self.platform.decide(
                    ApprovalDecided(order_id=order_id, approved=True, approver="load-test")
                )
            else:
                try:
                    response = self.platform.api.post(
                        f"/v1/approvals/{order_id}/approve",
                        headers={"Authorization": f"Bearer {self.token}"},
                    )
                except httpx.TransportError:
                    continue  # the orchestrator is restarting
                if response.status_code == 503:
                    continue  # its sidecar is restarting
                assert response.status_code == 202, response.text
                self.through_api += 1
            self.approved.add(order_id)


def place_all(platform: Platform, orders: list[LoadOrder]) -> None:
    """Publishes every order at once, from several threads (one shared gRPC channel)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda o: platform.place_order(o.placed), orders))


def wait_all_final(platform: Platform, orders: list[LoadOrder], approver: Approver) -> None:
    """Until every order has its final status, approving meanwhile."""

    def probe() -> bool:
        approver.approve_new()
        return len(platform.observer.finals()) >= len(orders)

    wait_until(probe, timeout=RUN_TIMEOUT, interval=0.1, what=f"{len(orders)} orders to finish")


def check_books(platform: Platform, orders: list[LoadOrder], approver: Approver) -> None:
    """Every invariant of a finished run; the assertion messages say what broke."""
    finals = platform.observer.finals()
    assert set(finals) == {o.order_id for o in orders}
    # At-least-once delivery may repeat a status event; it may never contradict itself.
    for o in orders:
        types = {d.type for d in platform.observer.statuses(o.order_id)} - {
            EventType.APPROVAL_REQUESTED
        }
        assert len(types) == 1, f"{o.order_id}: contradicting status events {types}"

    # Nothing given up: a crash delays messages, their retries outlast it.
    dead = [d for d in platform.observer.deliveries() if d.topic in DEAD_LETTER_TOPICS]
    assert dead == [], dead
    wait_until(lambda: no_run_left_running(platform), timeout=30, what="no saga left running")
    runs = {run["instanceId"]: run for run in all_runs(platform, name="order_saga")}
    outcomes: dict[str, str] = {}
    for o in orders:
        run = runs[saga_instance_id(o.order_id)]
        assert run["status"] == "COMPLETED", run
        outcomes[o.order_id] = run["output"]["outcome"]

    problems = unexpected_outcomes(
        orders, {o.order_id: runs[saga_instance_id(o.order_id)]["output"] for o in orders}
    )
    assert problems == [], "\n".join(problems)
    assert approver.approved == {o.order_id for o in orders if o.kind == "approval"}
    assert approver.through_api == len(approver.approved) // 2

    ledger = platform.ledger
    problems = violations(
        [o.placed for o in orders],
        outcomes,
        SEED,
        ledger.stock(SEED),
        ledger.records(o.order_id for o in orders),
    )
    assert problems == [], "\n".join(problems)


def check_no_card_number_anywhere(platform: Platform, orders: list[LoadOrder]) -> None:
    """No card of the run in a file, a log, Redis or an API answer; and the search does
    look where data is: a card put into the state store is found."""
    scan = scan_platform(platform, {o.card for o in orders})
    print(f"\ncard numbers searched in: {dict(scan.searched)}")
    assert scan.findings == [], "\n".join(scan.findings)
    assert scan.searched["log"] >= 2 * len(platform.nodes), scan.searched  # apps, sidecars
    assert scan.searched["api"] > 2 * len(orders), scan.searched
    store = "sqlite" if runtime_name() == "embedded" else "redis"
    assert scan.searched[store] > 0, scan.searched

    canary = card_number(len(orders) + 1)
    platform.dapr.save_state(STATESTORE, "card-scan-canary", json.dumps({"card": canary}))
    found = scan_platform(platform, [canary], api=False).findings
    assert any(f.split(":")[0].startswith(("data/", "redis key")) for f in found), found


Crash = tuple[str, Part] | None
CRASHES: dict[str, Crash] = {
    "no-crash": None,
    "payment-app-killed": ("payment", "app"),
    "inventory-sidecar-killed": ("inventory", "sidecar"),
    "orchestrator-app-killed": ("orchestrator", "app"),
    "orchestrator-sidecar-killed": ("orchestrator", "sidecar"),
}
# The crash comes once the crashed app's service holds this many saga records (the
# orchestrator's: the inventory's), about a quarter of its first commands: its own work is
# in full flow, most of it still ahead. Counting final orders would be too late: the 200
# sagas advance together, so the first ones end when most commands are already handled.
CRASH_AFTER_RECORDS = 50


def handled(platform: Platform, orders: list[LoadOrder], app_id: str) -> int:
    """How many sagas the service of `app_id` has a record for."""
    records = platform.ledger.records(o.order_id for o in orders).values()
    if app_id == "payment":
        return sum(r.payment is not None for r in records)
    if app_id == "shipping":
        return sum(r.shipment is not None for r in records)
    return sum(r.reservation is not None for r in records)


# daprd 1.18.2: when the orchestrator app dies, its daprd's GetWorkItems stream ends and
# daprd unregisters the workflow actor types and halts every workflow actor while holding
# the lock a new stream needs to register them again. With 200 sagas in flight the halt
# has taken minutes: the restarted app connects, gets no work item, and raised events wait
# (docs/sidecar-runtime.md, "Known differences"). On daprd the tier kills one app (the
# payment's) and two daprds instead; the orchestrator app is killed on the embedded runtime.
_SLOW_HALT_ON_DAPRD = pytest.mark.skipif(
    runtime_name() == "daprd",
    reason="daprd halts all workflow actors before a restarted worker may register",
)


def _crash_param(name: str) -> object:
    marks = [_SLOW_HALT_ON_DAPRD] if name == "orchestrator-app-killed" else []
    return pytest.param(CRASHES[name], id=name, marks=marks)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("crash", [_crash_param(name) for name in CRASHES])
def test_200_concurrent_orders_balance_the_books(
    start_platform: StartPlatform, crash: Crash
) -> None:
    platform = start_platform(SETTINGS)
    orders = load_orders(platform.tokenize, ORDERS)
    approver = Approver(platform)
    started = time.monotonic()

    place_all(platform, orders)
    if crash is not None:
        app_id, part = crash

        def crash_due() -> bool:
            approver.approve_new()
            return handled(platform, orders, app_id) >= CRASH_AFTER_RECORDS

        wait_until(crash_due, timeout=RUN_TIMEOUT, interval=0.1, what="the crash point")
        platform.kill(app_id, part)
        at_crash = handled(platform, orders, app_id)
        platform.start_part(app_id, part)
    wait_all_final(platform, orders, approver)
    elapsed = time.monotonic() - started

    platform.check_running()
    check_books(platform, orders, approver)
    check_no_card_number_anywhere(platform, orders)
    if crash is not None:
        # The crashed service went on working after its restart: the crash was mid-run.
        assert at_crash < handled(platform, orders, crash[0]), at_crash
    print(f"\n{ORDERS} orders, crash={crash}: all final after {elapsed:.1f}s")


@pytest.mark.timeout(300)
def test_200_concurrent_orders_on_two_replicas_of_each_service_balance_the_books(
    start_platform: StartPlatform,
) -> None:
    """Inventory, payment and shipping twice each, a sidecar each: competing consumers of
    their topics whose writes to the shared records (hot SKUs) race across processes."""
    platform = start_platform(replace(SETTINGS, replicas=2))
    orders = load_orders(platform.tokenize, ORDERS)
    approver = Approver(platform)

    place_all(platform, orders)
    wait_all_final(platform, orders, approver)

    platform.check_running()
    check_books(platform, orders, approver)
    for app_id in SERVICE_APPS:
        handled_by = {
            name: sum(r.get("msg") == "command handled" for r in platform.log_records(name))
            for name in (app_id, f"{app_id}-2")
        }
        assert all(handled_by.values()), f"a replica handled no command: {handled_by}"


def test_load_mix_has_every_kind_of_order() -> None:
    orders = load_orders(lambda card: "tok_" + "x" * 24, ORDERS)
    kinds = Counter(o.kind for o in orders)
    assert kinds == {
        "plain": 120,
        "approval": 20,
        "declined": 20,
        "unshippable": 20,
        "unknown_sku": 10,
        "scarce": 10,
    }
    assert all(o.placed.amount_cents > THRESHOLD_CENTS for o in orders if o.kind == "approval")
    assert all(o.placed.amount_cents <= THRESHOLD_CENTS for o in orders if o.kind != "approval")
    # A card of its own per order but the declined ones, which share the declining card.
    assert len({o.card for o in orders}) == ORDERS - kinds["declined"] + 1
