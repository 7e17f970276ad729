"""Retention of finished runs (`services.orchestrator.retention`) over the real
orchestrator and sidecar: a sweep purges the runs that ended longer ago than the retention,
their children with them, and leaves running and recent ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dapr.ext.workflow as wf

from services.contracts.names import EventType, approval_instance_id
from services.orchestrator.api.workflow_gateway import WorkflowGateway
from services.orchestrator.retention import RunRetention
from testkit.polling import wait_until
from tests.orchestrator.harness import CONFIG, Orchestrator, order

KEEP = timedelta(hours=1)
# Long enough that a silent service keeps its saga running through the test.
WAITING = CONFIG.model_copy(update={"step_timeout_seconds": 120, "approval_timeout_seconds": 120})


def test_a_sweep_purges_only_runs_that_finished_longer_ago_than_the_retention(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.services.script("ret-live", {EventType.INVENTORY_RESERVE: "silent"})
    live = orchestrator.start_saga(order("ret-live"), WAITING)
    big = order("ret-big", amount_cents=CONFIG.approval_threshold_cents + 1)
    ended = [orchestrator.start_saga(order("ret-done")), orchestrator.start_saga(big, WAITING)]
    child = approval_instance_id("ret-big")
    wait_until(lambda: orchestrator.workflows.get_workflow_state(child), what="the approval")
    orchestrator.workflows.terminate_workflow(ended[1])  # its approval child ends with it
    for instance_id in ended:
        orchestrator.workflows.wait_for_workflow_completion(instance_id, timeout_in_seconds=60)

    def child_terminated() -> bool:
        state = orchestrator.workflows.get_workflow_state(child)
        return state is not None and state.runtime_status == wf.WorkflowStatus.TERMINATED

    wait_until(child_terminated, what="the approval child terminated")
    now = datetime.now(UTC)
    gateway = WorkflowGateway(orchestrator.workflows)

    assert RunRetention(gateway, KEEP, KEEP, clock=lambda: now).sweep() == []

    later = now + KEEP + timedelta(minutes=1)
    purged = RunRetention(gateway, KEEP, KEEP, clock=lambda: later).sweep()

    assert set(purged) >= set(ended), purged
    assert live not in purged
    for instance_id in [*ended, child]:
        assert orchestrator.workflows.get_workflow_state(instance_id) is None, instance_id
    state = orchestrator.workflows.get_workflow_state(live)
    assert state is not None
    assert state.runtime_status == wf.WorkflowStatus.RUNNING
