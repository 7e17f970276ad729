"""One worker process of the Temporal peer: the orchestrator's workflows, or one service's
activities, each on its own task queue, as each of our apps is a process of its own.

`python -m bench.temporal.sdk.worker orchestrator|inventory|payment|shipping --address
HOST:PORT [--db FILE]`: a service keeps its effects in its SQLite file (`effects`). The
activities are `async def` on the worker's event loop: a SQLite transaction in WAL with
`synchronous=NORMAL` takes well under a millisecond, less than a thread hop would cost.
Runs until SIGTERM, then shuts the worker down.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from bench.temporal.effects import Inventory, Payment, Shipping
from bench.temporal.sdk.saga import OrderSaga
from bench.temporal.shape import (
    COMPLETION,
    INVENTORY,
    ORDERS_QUEUE,
    PAYMENT,
    QUEUES,
    SERVICES,
    SHIPPING,
    STEPS,
    Command,
    Reply,
)

ORCHESTRATOR = "orchestrator"
# The bench's stock (bench/e2e.py's SEED): never short during a run.
SEED = {"BENCH-A": 100_000, "BENCH-B": 100_000, "BENCH-C": 100_000}
Handler = Callable[[Command], Reply]


def _activity(name: str, handler: Handler) -> Callable[[Command], Awaitable[Reply]]:
    """`handler` (a store's method) as the activity `name`."""

    @activity.defn(name=name)
    async def run(command: Command) -> Reply:
        return handler(command)

    return run


def activities(service: str, db: Path) -> list[Callable[[Command], Awaitable[Reply]]]:
    """The service's activities, under the names the saga's steps call."""
    handlers: dict[str, Handler]
    if service == INVENTORY:
        inventory = Inventory(db)
        inventory.seed(SEED)
        handlers = {
            "reserve_inventory": inventory.reserve,
            "release_inventory": inventory.release,
            "commit_inventory": inventory.commit,
        }
    elif service == PAYMENT:
        payment = Payment(db)
        handlers = {"charge_payment": payment.charge, "refund_payment": payment.refund}
    else:
        assert service == SHIPPING, service
        shipping = Shipping(db)
        handlers = {"create_shipment": shipping.ship, "cancel_shipment": shipping.cancel}
    called = {
        name
        for step in (*STEPS, COMPLETION)
        if step.service == service
        for name in (step.activity, step.compensation)
        if name
    }
    assert called == set(handlers), f"{service}: the saga calls {sorted(called)}"
    return [_activity(name, handler) for name, handler in handlers.items()]


async def serve(role: str, address: str, db: Path | None) -> None:
    client = await Client.connect(address)
    if role == ORCHESTRATOR:
        worker = Worker(client, task_queue=ORDERS_QUEUE, workflows=[OrderSaga])
    else:
        assert db is not None, "a service keeps its effects in --db"
        worker = Worker(client, task_queue=QUEUES[role], activities=activities(role, db))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with worker:
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.temporal.sdk.worker")
    parser.add_argument("role", choices=[ORCHESTRATOR, *SERVICES])
    parser.add_argument("--address", required=True)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.role, args.address, args.db))


if __name__ == "__main__":
    main()
