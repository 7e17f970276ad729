"""Chaos under load: orders through the management API while every process of the platform
is `kill -9`ed together, several times, and started again on the same data.

A few customers (threads) place the load mix (`e2e.local.load_mix`) one order after the
other through `POST /v1/orders` (`testkit.api_orders`: a call that fails while the platform
is down is tried again until it is accepted). Each time a further share of the orders is
accepted, every app and every sidecar, the observer's too, gets SIGKILL at once
(`Platform.kill_all`: a power cut), the platform stays down until the customers' calls
have failed on it, and everything starts again on the same ports and data
(`Platform.start_all`). Approvals are decided through the `approvals` topic as their
requests arrive (a decision repeated after a crash is acknowledged and dropped).

Then every accepted order must end in a terminal saga, as its kind says
(`unexpected_outcomes`), and the books must balance (`e2e.local.ledger.violations`:
stock conserved, each completed order charged and shipped once, each other one with no
net charge, no stock held and no live shipment), with nothing dead-lettered and no run
left running. An order the client gave up on is left out of the books unless a saga ran
for it (its call may have reached the platform before the connection broke).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from queue import Queue
from typing import Any

import grpc

from e2e.local.harness import Platform
from e2e.local.ledger import violations
from e2e.local.load_mix import SEED, LoadOrder, all_runs, no_run_left_running, unexpected_outcomes
from services.contracts.messages import ApprovalDecided
from services.contracts.names import EventType, saga_instance_id
from services.contracts.topology import DEAD_LETTER_TOPICS, TERMINAL_RUNTIME_STATUSES
from testkit.api_orders import ApiOrders
from testkit.polling import wait_until

APPROVER = "chaos-approver"


@dataclass(frozen=True)
class KillRound:
    """One power cut: how many orders were accepted and how many of those had no outcome
    yet when it came, the calls that failed while the platform was down, how long it was
    down (kill to every process started again) and how long the start took."""

    accepted: int
    in_flight: int
    failed_calls: int
    down_s: float
    start_s: float


@dataclass
class ChaosRun:
    orders: list[LoadOrder]
    kills: list[KillRound] = field(default_factory=list)
    not_accepted: dict[str, str] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    failed_calls: int = 0
    placing_s: float = 0.0
    settled_s: float = 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "orders": len(self.orders),
            "accepted": len(self.orders) - len(self.not_accepted),
            "not_accepted": len(self.not_accepted),
            "failed_calls": self.failed_calls,
            "kills": len(self.kills),
            "kill_rounds": [vars(k) for k in self.kills],
            "outcomes": dict(self.outcomes),
            "violations": len(self.problems),
            "placing_s": self.placing_s,
            "settled_s": self.settled_s,
        }


class Approvals:
    """Approves each order whose `approval.requested` arrives, through the `approvals`
    topic; while the observer's sidecar is down, at a later call."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.decided: set[str] = set()

    def decide_new(self) -> None:
        for delivery in self.platform.observer.deliveries():
            order_id = delivery.order_id
            if delivery.type != EventType.APPROVAL_REQUESTED or order_id is None:
                continue
            if order_id in self.decided:
                continue
            try:
                self.platform.decide(
                    ApprovalDecided(order_id=order_id, approved=True, approver=APPROVER)
                )
            except grpc.RpcError:
                return  # the sidecar is down or starting: the next call tries again
            self.decided.add(order_id)


def run_chaos(
    platform: Platform,
    orders: list[LoadOrder],
    rounds: int,
    customers: int = 2,
    settle_timeout: float = 300.0,
) -> ChaosRun:
    """Places `orders` through the API with `rounds` power cuts on the way, waits until
    every saga ended, and checks the books; the run's figures and problems.

    The orders go out in `rounds + 1` shares. A cut comes once a share is accepted but
    for the orders the customers are still placing, so sagas and calls are under way; while
    the platform is down, the next orders go out too, and their calls fail until it is
    back."""
    run = ChaosRun(orders)
    client = ApiOrders(platform.api_url, platform.api_token)
    approvals = Approvals(platform)
    checkout = Checkout(client, customers)
    share = len(orders) // (rounds + 1)
    assert share > 2 * customers, "too few orders for the cuts and customers"
    started = time.monotonic()
    try:
        for number in range(rounds):
            checkout.release(orders[number * share : (number + 1) * share - customers])

            def cut_due(due: int = (number + 1) * share - 2 * customers) -> bool:
                approvals.decide_new()
                return len(client.accepted()) >= due

            wait_until(cut_due, timeout=settle_timeout, interval=0.05, what="the cut's orders")
            run.kills.append(
                power_cut(platform, client, approvals, checkout, orders, number, share)
            )
        checkout.release(orders[rounds * share :])
    finally:
        checkout.close()
    run.placing_s = time.monotonic() - started
    client.close()
    placements = [client.placements[o.order_id] for o in orders]
    run.not_accepted = {p.order_id: p.refused or "" for p in placements if not p.accepted}
    run.failed_calls = sum(len(p.failures) for p in placements)
    accepted = [o for o in orders if o.order_id not in run.not_accepted]
    runs = wait_settled(platform, orders, accepted, approvals, settle_timeout)
    run.settled_s = time.monotonic() - started
    run.problems = books(platform, run, runs)
    return run


class Checkout:
    """`customers` threads, each placing the next released order once its last one is
    accepted (or refused), as a shop's checkout does."""

    def __init__(self, client: ApiOrders, customers: int) -> None:
        self.client = client
        self.customers = customers
        self._queue: Queue[LoadOrder | None] = Queue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"customer-{n}", daemon=True)
            for n in range(customers)
        ]
        for thread in self._threads:
            thread.start()

    def release(self, orders: list[LoadOrder]) -> None:
        for o in orders:
            self._queue.put(o)

    def close(self) -> None:
        """Once every released order is placed or given up on."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        while (o := self._queue.get()) is not None:
            self.client.place(o.placed)


def power_cut(
    platform: Platform,
    client: ApiOrders,
    approvals: Approvals,
    checkout: Checkout,
    orders: list[LoadOrder],
    number: int,
    share: int,
) -> KillRound:
    """Every process killed at once; the share's last orders go out while it is down, until
    their calls failed on it; then everything started again on the same data."""
    accepted = {p.order_id for p in client.accepted()}
    in_flight = len(accepted - set(platform.observer.finals()))
    killed = time.monotonic()
    platform.kill_all()
    end = (number + 1) * share
    checkout.release(orders[end - checkout.customers : end])
    wait_until(
        lambda: client.failures_since(killed) > 0,
        timeout=60,
        interval=0.05,
        what="a call refused by the downed platform",
    )
    starting = time.monotonic()
    platform.start_all()
    done = time.monotonic()
    approvals.decide_new()
    failed = client.failures_since(killed)
    return KillRound(len(accepted), in_flight, failed, done - killed, done - starting)


def wait_settled(
    platform: Platform,
    orders: list[LoadOrder],
    accepted: list[LoadOrder],
    approvals: Approvals,
    timeout: float,
) -> dict[str, dict[str, Any]]:
    """Until every accepted order has a saga and no order's saga runs any more, approving
    meanwhile; the sagas by order id."""
    order_ids = {saga_instance_id(o.order_id): o.order_id for o in orders}
    expected = {o.order_id for o in accepted}

    def settled() -> dict[str, dict[str, Any]] | None:
        approvals.decide_new()
        runs = {
            order_ids[run["instanceId"]]: run
            for run in all_runs(platform, name="order_saga")
            if run["instanceId"] in order_ids
        }
        live = [r for r in runs.values() if r["status"] not in TERMINAL_RUNTIME_STATUSES]
        return None if live or not expected <= set(runs) else runs

    runs: dict[str, dict[str, Any]] = wait_until(
        settled, timeout=timeout, interval=0.5, what="every order saga to end"
    )
    wait_until(lambda: no_run_left_running(platform), timeout=60, what="no run left running")
    return runs


def books(platform: Platform, run: ChaosRun, runs: dict[str, dict[str, Any]]) -> list[str]:
    """Every broken invariant of a settled chaos run, in words."""
    problems = [
        f"{o.order_id}: accepted, but no saga ran for it"
        for o in run.orders
        if o.order_id not in run.not_accepted and o.order_id not in runs
    ]
    checked = [o for o in run.orders if o.order_id in runs]
    outputs = {}
    for o in checked:
        saga = runs[o.order_id]
        if saga["status"] != "COMPLETED" or not isinstance(saga.get("output"), dict):
            problems.append(f"{o.order_id}: the saga ended {saga['status']}: {saga}")
            continue
        outputs[o.order_id] = saga["output"]
        run.outcomes[saga["output"]["outcome"]] += 1
    problems += unexpected_outcomes([o for o in checked if o.order_id in outputs], outputs)
    ledger = platform.ledger
    problems += violations(
        [o.placed for o in checked],
        {order_id: output["outcome"] for order_id, output in outputs.items()},
        SEED,
        ledger.stock(SEED),
        ledger.records(o.order_id for o in checked),
    )
    dead = [d for d in platform.observer.deliveries() if d.topic in DEAD_LETTER_TOPICS]
    problems += [f"dead-lettered on {d.topic}: {d.data}" for d in dead]
    for o in checked:
        types = {d.type for d in platform.observer.statuses(o.order_id)}
        if len(types - {EventType.APPROVAL_REQUESTED}) > 1:
            problems.append(f"{o.order_id}: contradicting status events {types}")
    return problems
