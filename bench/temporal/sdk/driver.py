"""The Temporal peer's measuring client: E1 and E2 of `bench/e2e.py` on Temporal.

`python -m bench.temporal.sdk.driver --address HOST:PORT --pids JSON` waits until every
task queue has a poller, checks the refusal path once (a declined card must end
`compensated`, its reservation released), warms up, then measures:

- E1: `BURST_ORDERS` sagas started at once (one task each, so the starts go out
  concurrently); orders/s from the first start to the last result, each order's latency
  from its start call to its result (`handle.result()`, the SDK's long poll), and each
  process's CPU per order over the burst (the dev server, the workers, this client).
- E2: `IDLE_ORDERS` sagas one at a time: the idle latency.

Prints the figures as one JSON line, the last on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import version
from typing import Any, TypeVar

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench import cpu
from bench.report import percentile
from bench.temporal.sdk.saga import OrderSaga
from bench.temporal.shape import (
    DECLINED_TOKEN,
    ORDERS_QUEUE,
    QUEUES,
    Order,
    SagaResult,
    bench_order,
)

WARMUP_ORDERS = 5
BURST_ORDERS = 200
IDLE_ORDERS = 20
READY_TIMEOUT_S = 60.0
WAIT_S = 300.0
NAMESPACE = "default"
T = TypeVar("T")
Figures = dict[str, Any]


async def poll_until(probe: Callable[[], Awaitable[T | None]], seconds: float, what: str) -> T:
    """`testkit.polling.wait_until` for a coroutine probe: polls to a deadline."""
    deadline = time.monotonic() + seconds
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_for_pollers(client: Client) -> None:
    """Every queue has a worker polling it: a saga started now runs at once."""
    queues = [(ORDERS_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)]
    queues += [(queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY) for queue in QUEUES.values()]
    for name, kind in queues:

        async def polled(name: str = name, kind: TaskQueueType.ValueType = kind) -> bool:
            request = DescribeTaskQueueRequest(
                namespace=NAMESPACE, task_queue=TaskQueue(name=name), task_queue_type=kind
            )
            response = await client.workflow_service.describe_task_queue(request)
            return len(response.pollers) > 0

        await poll_until(polled, READY_TIMEOUT_S, f"a poller on {name}")


class Orders:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.count = 0

    def make(self, count: int, label: str, token: str = "tok-good") -> list[Order]:
        made = [bench_order(f"{label}-{self.count + i:04d}", i, token) for i in range(count)]
        self.count += count
        return made

    async def run(self, order: Order) -> tuple[float, float, SagaResult]:
        """(started, finished, result) of one saga, by this process's monotonic clock."""
        started = time.monotonic()
        handle = await self.client.start_workflow(
            OrderSaga.run, order, id=order.order_id, task_queue=ORDERS_QUEUE
        )
        result = await handle.result()
        return started, time.monotonic(), result

    async def completed(self, orders: list[Order]) -> list[tuple[float, float]]:
        runs = await asyncio.wait_for(asyncio.gather(*map(self.run, orders)), WAIT_S)
        for _, _, result in runs:
            if result.outcome != "completed":
                raise RuntimeError(f"order {result.order_id} did not complete: {result}")
        return [(started, finished) for started, finished, _ in runs]

    async def check_refusal(self) -> Figures:
        """A declined card: the reservation is released and the saga ends compensated."""
        (order,) = self.make(1, "declined", DECLINED_TOKEN)
        _, _, result = await self.run(order)
        expected = ("compensated", "charge", ["release_inventory"])
        if (result.outcome, result.failed_step, result.compensations) != expected:
            raise RuntimeError(f"a declined order should end {expected}: {result}")
        return {"order_id": order.order_id, "outcome": result.outcome, "reason": result.reason}

    async def burst(self, count: int, pids: dict[str, int]) -> Figures:
        orders = self.make(count, "burst")
        before = cpu.sample(pids)
        runs = await self.completed(orders)
        after = cpu.sample(pids)
        latencies = [(finished - started) * 1000 for started, finished in runs]
        seconds = max(f for _, f in runs) - min(s for s, _ in runs)
        return {
            "orders": count,
            "seconds": seconds,
            "orders_per_s": count / seconds,
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies),
            "cpu_ms_per_order": cpu.per_order_ms(before, after, count),
        }

    async def idle(self, count: int) -> Figures:
        latencies = []
        for order in self.make(count, "idle"):
            ((started, finished),) = await self.completed([order])
            latencies.append((finished - started) * 1000)
        return {
            "orders": count,
            "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 0.99),
            "mean_ms": statistics.fmean(latencies),
        }


async def measure(address: str, pids: dict[str, int]) -> Figures:
    client = await Client.connect(address)
    await wait_for_pollers(client)
    orders = Orders(client)
    check = await orders.check_refusal()
    await orders.completed(orders.make(WARMUP_ORDERS, "warmup"))
    burst = await orders.burst(BURST_ORDERS, {**pids, "client": os.getpid()})
    idle = await orders.idle(IDLE_ORDERS)
    return {
        "sdk": f"temporalio {version('temporalio')}",
        "orders_completed": WARMUP_ORDERS + BURST_ORDERS + IDLE_ORDERS,
        "check": check,
        "burst": burst,
        "idle": idle,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.temporal.sdk.driver")
    parser.add_argument("--address", required=True)
    parser.add_argument("--pids", required=True, help="JSON: process name -> pid")
    args = parser.parse_args(argv)
    pids: dict[str, int] = json.loads(args.pids)
    figures = asyncio.run(measure(args.address, pids))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
