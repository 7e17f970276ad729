"""`order_batch`: fan-out / fan-in of child sagas."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import dapr.ext.workflow as wf

from services.contracts.names import WorkflowName, saga_instance_id
from services.orchestrator.workflow_io import BatchInput, BatchResult, SagaInput, SagaResult
from services.orchestrator.workflows.common import Flow, log_once, set_status

BATCH_OUTCOMES = (
    "completed",
    "rejected",
    "compensated",
    "compensation_failed",
    "cancelled",
    "failed",
)


def order_batch(ctx: wf.DaprWorkflowContext, data: dict[str, Any]) -> Flow:
    """Fans the orders out as child `order_saga` workflows (`order-<orderId>`) and counts
    their outcomes; a child that failed as a workflow counts as `failed`."""
    batch = BatchInput.parse(data)
    ids = [order.order_id for order in batch.orders]
    repeated = sorted({order_id for order_id in ids if ids.count(order_id) > 1})
    if repeated:
        raise ValueError(f"batch {batch.batch_id} lists orders more than once: {repeated}")
    set_status(ctx, step="running", total=len(ids))
    children: list[Any] = [
        ctx.call_child_workflow(
            WorkflowName.ORDER_SAGA,
            input=SagaInput(order=order, config=batch.config).to_data(),
            instance_id=saga_instance_id(order.order_id),
        )
        for order in batch.orders
    ]
    # Each child is looked at below: one failure must not hide the other results.
    with contextlib.suppress(wf.TaskFailedError):
        yield wf.when_all(children)
    outcomes: Counter[str] = Counter({name: 0 for name in BATCH_OUTCOMES})
    results: list[SagaResult] = []
    for order, child in zip(batch.orders, children, strict=True):
        if child.is_failed:
            outcomes["failed"] += 1
            log_once(
                ctx,
                "child saga failed",
                saga_instance_id(order.order_id),
                error=str(child.get_exception()),
            )
            continue
        result = SagaResult.parse(child.get_result())
        outcomes[result.outcome] += 1
        results.append(result)
    summary = BatchResult(
        batch_id=batch.batch_id, total=len(ids), outcomes=dict(outcomes), results=results
    )
    set_status(ctx, step="done", total=len(ids), outcomes=summary.outcomes)
    return summary.to_data()
