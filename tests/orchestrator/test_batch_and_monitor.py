"""Fan-out/fan-in (a batch of orders as child sagas) and the stock monitor (timers and
continue-as-new)."""

from __future__ import annotations

import dapr.ext.workflow as wf

from services.contracts.messages import StockLevel
from services.contracts.names import STATESTORE, EventType, stock_key
from services.orchestrator.workflow_io import BatchInput, BatchResult, StockMonitorInput
from testkit.polling import wait_until
from tests.orchestrator.harness import CONFIG, Orchestrator, order


def test_batch_runs_each_order_as_a_child_saga_and_counts_outcomes(
    orchestrator: Orchestrator,
) -> None:
    services = orchestrator.services
    services.script("b-2", {EventType.PAYMENT_CHARGE: "reject"})
    services.script("b-3", {EventType.INVENTORY_RESERVE: "reject"})
    batch = BatchInput(
        batch_id="batch-1",
        orders=[order("b-1"), order("b-2"), order("b-3"), order("b-4")],
        config=CONFIG,
    )

    instance_id = orchestrator.workflows.schedule_new_workflow(
        "order_batch", input=batch.to_data(), instance_id="batch-1"
    )
    result = BatchResult.parse(orchestrator.output(instance_id))

    assert result.total == 4
    assert result.outcomes == {
        "completed": 2,
        "compensated": 1,
        "rejected": 1,
        "compensation_failed": 0,
        "cancelled": 0,
        "failed": 0,
    }
    assert [(r.order_id, r.outcome) for r in result.results] == [
        ("b-1", "completed"),
        ("b-2", "compensated"),
        ("b-3", "rejected"),
        ("b-4", "completed"),
    ]
    # Each child is the order's own saga instance.
    child = orchestrator.workflows.get_workflow_state("order-b-1")
    assert child is not None
    assert child.runtime_status == wf.WorkflowStatus.COMPLETED


def test_batch_listing_an_order_twice_fails_before_starting_any_saga(
    orchestrator: Orchestrator,
) -> None:
    batch = BatchInput(batch_id="batch-2", orders=[order("d-1"), order("d-1")], config=CONFIG)

    instance_id = orchestrator.workflows.schedule_new_workflow(
        "order_batch", input=batch.to_data(), instance_id="batch-2"
    )
    state = orchestrator.workflows.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)

    assert state is not None
    assert state.runtime_status == wf.WorkflowStatus.FAILED
    assert "more than once" in str(state.failure_details.message)
    assert orchestrator.workflows.get_workflow_state("order-d-1") is None


def _stock(orchestrator: Orchestrator, sku: str, available: int) -> None:
    level = StockLevel(sku=sku, available=available)
    orchestrator.dapr.save_state(STATESTORE, stock_key(sku), level.to_json())


def test_stock_monitor_alerts_each_low_sku_once_and_continues_as_new(
    orchestrator: Orchestrator,
) -> None:
    _stock(orchestrator, "LOW-1", 2)
    _stock(orchestrator, "OK-1", 50)
    monitor = StockMonitorInput(
        skus=["LOW-1", "OK-1", "GONE-1"],
        low_stock_threshold=5,
        interval_seconds=0.2,
        checks_before_continue_as_new=3,
        max_checks=40,
    )
    instance_id = orchestrator.workflows.schedule_new_workflow(
        "stock_monitor", input=monitor.to_data(), instance_id="stock-monitor-1"
    )

    def alerts() -> list[str]:
        return [
            s.data["sku"]
            for s in orchestrator.services.status_events
            if s.event_type == EventType.INVENTORY_LOW_STOCK
        ]

    wait_until(lambda: alerts() == ["LOW-1"], timeout=30, what="the first low-stock alert")
    _stock(orchestrator, "OK-1", 1)  # drops below the threshold while the monitor runs
    wait_until(lambda: "OK-1" in alerts(), timeout=30, what="the second low-stock alert")

    output = orchestrator.output(instance_id)
    assert output == {"checksDone": 40, "low": ["LOW-1", "OK-1"], "alerted": ["LOW-1", "OK-1"]}
    assert sorted(alerts()) == ["LOW-1", "OK-1"]  # once each, across 40 checks
    assert orchestrator.custom_status(instance_id)["unknown"] == ["GONE-1"]
    # Continued as new every 3 checks: only the last execution's history remains, with
    # its own input carrying the checks done so far.
    history = orchestrator.workflows.get_workflow_history(instance_id)
    started = [e for e in history if e.event_type == wf.WorkflowHistoryEventType.EXECUTION_STARTED]
    assert len(started) == 1
    state = orchestrator.workflows.get_workflow_state(instance_id)
    assert state is not None
    carried = StockMonitorInput.model_validate_json(state.serialized_input)
    assert carried.checks_done == 39
    assert carried.alerted == ["LOW-1", "OK-1"]
