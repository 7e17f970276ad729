"""The seed's workflow patterns, written as app code is, against the embedded sidecar."""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf

from tests.sidecar.outcomes import WAIT, finished, output_of


def test_task_chaining_passes_each_result_to_the_next_activity(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.activity(name="append")
    def append(ctx: wf.WorkflowActivityContext, text: str) -> str:
        return text + "!"

    @runtime.workflow(name="chain")
    def chain(ctx: wf.DaprWorkflowContext, text: str) -> Generator[Any, Any, str]:
        for _ in range(3):
            text = yield ctx.call_activity(append, input=text)
        return text

    runtime.start()
    instance_id = client.schedule_new_workflow(chain, input="go")

    assert output_of(finished(client, instance_id)) == "go!!!"


def test_fan_out_fan_in_collects_every_result_in_order(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.activity(name="square")
    def square(ctx: wf.WorkflowActivityContext, n: int) -> int:
        return n * n

    @runtime.workflow(name="fan_out")
    def fan_out(ctx: wf.DaprWorkflowContext, count: int) -> Generator[Any, Any, dict[str, Any]]:
        tasks = [ctx.call_activity(square, input=n) for n in range(count)]
        squares = yield wf.when_all(tasks)
        return {"squares": squares, "total": sum(squares)}

    runtime.start()
    instance_id = client.schedule_new_workflow(fan_out, input=10)

    result = output_of(finished(client, instance_id))
    assert result["squares"] == [n * n for n in range(10)]
    assert result["total"] == 285


def test_monitor_polls_with_a_timer_and_continues_as_new_until_the_condition_holds(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    checks: list[int] = []

    @runtime.activity(name="check_job")
    def check_job(ctx: wf.WorkflowActivityContext, poll: int) -> str:
        checks.append(poll)
        return "done" if poll >= 3 else "running"

    @runtime.workflow(name="monitor")
    def monitor(ctx: wf.DaprWorkflowContext, poll: int) -> Generator[Any, Any, dict[str, Any]]:
        status = yield ctx.call_activity(check_job, input=poll)
        if status == "done":
            return {"polls": poll, "status": status}
        yield ctx.create_timer(timedelta(milliseconds=200))
        ctx.continue_as_new(poll + 1)
        return {}

    runtime.start()
    instance_id = client.schedule_new_workflow(monitor, input=1)

    assert output_of(finished(client, instance_id)) == {"polls": 3, "status": "done"}
    assert checks == [1, 2, 3]
    # Each loop is a new execution: only the last one's history remains.
    history = client.get_workflow_history(instance_id)
    started = [e for e in history if e.event_type == wf.WorkflowHistoryEventType.EXECUTION_STARTED]
    assert len(started) == 1
    scheduled = [e for e in history if e.event_type == wf.WorkflowHistoryEventType.TASK_SCHEDULED]
    assert len(scheduled) == 1


def _approval_runtime(
    make_runtime: Callable[..., wf.WorkflowRuntime], timeout: timedelta
) -> wf.WorkflowRuntime:
    runtime = make_runtime()

    @runtime.workflow(name="approval")
    def approval(ctx: wf.DaprWorkflowContext, order: str) -> Generator[Any, Any, dict[str, Any]]:
        decision = ctx.wait_for_external_event("approval")
        expired = ctx.create_timer(timeout)
        winner = yield wf.when_any([decision, expired])
        if winner == decision:
            return {"order": order, "outcome": "decided", "by": decision.get_result()}
        return {"order": order, "outcome": "timed out"}

    runtime.start()
    return runtime


def test_human_approval_event_arriving_before_the_timeout_wins(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    # The timer is long only so that it cannot win; the event arrives within milliseconds.
    _approval_runtime(make_runtime, timedelta(seconds=30))
    instance_id = client.schedule_new_workflow("approval", input="order-7")
    client.wait_for_workflow_start(instance_id, timeout_in_seconds=WAIT)
    client.raise_workflow_event(instance_id, "approval", data={"approver": "alice"})

    result = output_of(finished(client, instance_id))
    assert result == {"order": "order-7", "outcome": "decided", "by": {"approver": "alice"}}


def test_human_approval_times_out_when_no_event_arrives(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    _approval_runtime(make_runtime, timedelta(seconds=1))
    instance_id = client.schedule_new_workflow("approval", input="order-8")

    assert output_of(finished(client, instance_id)) == {"order": "order-8", "outcome": "timed out"}
    # An approval that comes too late changes nothing.
    client.raise_workflow_event(instance_id, "approval", data={"approver": "bob"})
    assert output_of(finished(client, instance_id))["outcome"] == "timed out"


def test_saga_compensates_completed_steps_in_reverse_order_when_a_step_fails(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.activity(name="reserve_stock")
    def reserve_stock(ctx: wf.WorkflowActivityContext, order: str) -> str:
        return f"reserved:{order}"

    @runtime.activity(name="charge_card")
    def charge_card(ctx: wf.WorkflowActivityContext, order: str) -> str:
        return f"charged:{order}"

    @runtime.activity(name="book_courier")
    def book_courier(ctx: wf.WorkflowActivityContext, order: str) -> str:
        raise RuntimeError(f"no courier available for {order}")

    @runtime.activity(name="release_stock")
    def release_stock(ctx: wf.WorkflowActivityContext, order: str) -> str:
        return f"released:{order}"

    @runtime.activity(name="refund_card")
    def refund_card(ctx: wf.WorkflowActivityContext, order: str) -> str:
        return f"refunded:{order}"

    steps = [(reserve_stock, release_stock), (charge_card, refund_card), (book_courier, None)]

    @runtime.workflow(name="order_saga")
    def order_saga(ctx: wf.DaprWorkflowContext, order: str) -> Generator[Any, Any, dict[str, Any]]:
        done: list[Any] = []
        completed: list[str] = []
        try:
            for step, compensation in steps:
                completed.append((yield ctx.call_activity(step, input=order)))
                done.append(compensation)
        except wf.TaskFailedError as error:
            compensations = []
            for compensation in reversed(done):
                compensations.append((yield ctx.call_activity(compensation, input=order)))
            return {
                "status": "compensated",
                "completed": completed,
                "error": error.details.message,
                "compensations": compensations,
            }
        return {"status": "done", "completed": completed}

    runtime.start()
    instance_id = client.schedule_new_workflow(order_saga, input="o-1")

    result = output_of(finished(client, instance_id))
    assert result["status"] == "compensated"
    assert result["completed"] == ["reserved:o-1", "charged:o-1"]
    assert "no courier available for o-1" in result["error"]
    assert result["compensations"] == ["refunded:o-1", "released:o-1"]


def test_child_workflow_results_flow_back_to_the_parent(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.activity(name="price")
    def price(ctx: wf.WorkflowActivityContext, item: str) -> int:
        return len(item) * 10

    @runtime.workflow(name="price_item")
    def price_item(ctx: wf.DaprWorkflowContext, item: str) -> Generator[Any, Any, dict[str, Any]]:
        amount = yield ctx.call_activity(price, input=item)
        return {"item": item, "amount": amount}

    @runtime.workflow(name="price_basket")
    def price_basket(
        ctx: wf.DaprWorkflowContext, items: list[str]
    ) -> Generator[Any, Any, dict[str, Any]]:
        lines = yield wf.when_all(
            [
                ctx.call_child_workflow(
                    price_item, input=item, instance_id=f"{ctx.instance_id}-{n}"
                )
                for n, item in enumerate(items)
            ]
        )
        return {"lines": lines, "total": sum(line["amount"] for line in lines)}

    runtime.start()
    instance_id = client.schedule_new_workflow(price_basket, input=["tea", "bread"])

    result = output_of(finished(client, instance_id))
    assert result["lines"] == [{"item": "tea", "amount": 30}, {"item": "bread", "amount": 50}]
    assert result["total"] == 80
    child = client.get_workflow_state(f"{instance_id}-1")
    assert child is not None
    assert child.runtime_status == wf.WorkflowStatus.COMPLETED
