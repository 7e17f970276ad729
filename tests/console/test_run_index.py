"""The console's run index over the real SDK client and an embedded sidecar: the first page
answers while the index still fills, and fills in as the runs are read; a runtime that does
not answer leaves the list as it was, with the reason."""

from __future__ import annotations

import threading
from typing import Any

import dapr.ext.workflow as wf

from services.contracts.names import WorkflowName
from services.orchestrator.api.workflow_gateway import WorkflowGateway
from services.orchestrator.console.run_index import RunFilter, RunIndex, RunPage
from testkit.polling import wait_until
from testkit.ports import free_port
from tests.api.harness import finished, order

RUNS = 12
CHUNK = 5
EVERYTHING = RunFilter()


class HeldReads(WorkflowGateway):
    """The real gateway, whose reads of runs outside `free` wait until `release` is set:
    a store so large that the first fill takes a while, on demand."""

    def __init__(self, client: wf.DaprWorkflowClient, free: set[str]) -> None:
        super().__init__(client)
        self.free = free
        self.release = threading.Event()

    def find(self, instance_id: str, *, payloads: bool = True) -> Any | None:
        if instance_id not in self.free:
            assert self.release.wait(30), "the test never released the reads"
        return super().find(instance_id, payloads=payloads)


def test_the_first_page_answers_while_the_index_fills_and_fills_in(
    client: wf.DaprWorkflowClient, runtime: wf.WorkflowRuntime
) -> None:
    for number in range(RUNS):
        instance_id = client.schedule_new_workflow(
            WorkflowName.ORDER_SAGA.value,
            input={"order": order(f"fill-{number}", f"cust-{number}")},
            instance_id=f"order-fill-{number}",
        )
        finished(client, instance_id)
    listed = list(WorkflowGateway(client).all_ids())
    gateway = HeldReads(client, free=set(listed[:CHUNK]))
    index = RunIndex(gateway, answer_within=0.2, chunk=CHUNK)

    first = index.page(EVERYTHING, 1, 50)

    assert {run.instance_id for run in first.items} == set(listed[:CHUNK])
    assert first.unread == RUNS - CHUNK
    gateway.release.set()

    def filled() -> RunPage | None:
        page = index.page(EVERYTHING, 1, 50)
        return page if page.unread == 0 else None

    full = wait_until(filled, 30, what="the index to fill")
    assert full.total == RUNS
    assert full.version > first.version
    newest_first = sorted(full.items, key=lambda run: run.created_at, reverse=True)
    assert [run.created_at for run in full.items] == [run.created_at for run in newest_first]
    assert {run.customer_id for run in full.items} == {f"cust-{n}" for n in range(RUNS)}


def test_a_runtime_that_does_not_answer_leaves_the_list_as_it_was_with_the_reason() -> None:
    unreachable = wf.DaprWorkflowClient(host="127.0.0.1", port=str(free_port()))
    try:
        index = RunIndex(WorkflowGateway(unreachable), answer_within=10)
        page = index.page(EVERYTHING, 1, 50)
    finally:
        unreachable.close()

    assert page.items == []
    assert page.problem is not None
    assert "UNAVAILABLE" in page.problem or "connect" in page.problem.lower(), page.problem
