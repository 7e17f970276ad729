"""Workflow versioning (Dapr 1.17): the patches and the named version a worker ran a turn
with are kept in the history, so an instance started under one version replays on its own
path after the worker is restarted with new code; a worker whose code no longer has what
the history needs stalls the instance (STALLED) until a worker that has it comes back.

Each test starts an instance that waits for an event, restarts the worker with other
code, then sends the event: the turn that follows replays the history with the new code.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import dapr.ext.workflow as wf
import pytest

from services.orchestrator.api.workflow_gateway import read_through_torn_saves
from sidecar.workflow.protos import pb
from testkit.polling import wait_until
from testkit.sidecar import stub_for
from tests.fidelity.runtimes import WAIT, AppRuntime, Sdk, output_of

Workflow = Callable[[wf.DaprWorkflowContext, Any], Generator[Any, Any, Any]]


class Scenario:
    """One app's worker, replaced by one with new code while an instance waits."""

    def __init__(self, app: AppRuntime, sdk: Sdk) -> None:
        self.app = app
        self.sdk = sdk
        self.client = sdk.client(app)
        self.worker: wf.WorkflowRuntime | None = None

    def deploy(self, register: Callable[[wf.WorkflowRuntime], None]) -> None:
        """Stops the current worker (if any) and starts one with `register`'s code."""
        if self.worker is not None:
            self.worker.shutdown()
        self.worker = self.sdk.worker(self.app)

        @self.worker.activity(name="step")
        def step(ctx: wf.WorkflowActivityContext, label: str) -> str:
            return label

        register(self.worker)
        self.worker.start()

    def start_waiting(self, name: str) -> str:
        """Starts `name` and returns once it waits for the "go" event."""
        instance_id = self.client.schedule_new_workflow(name)
        wait_until(
            lambda: self.custom_status(instance_id) == "waiting",
            WAIT,
            what="the workflow to wait",
        )
        return instance_id

    def custom_status(self, instance_id: str) -> str | None:
        state = self.state(instance_id)
        return None if state is None else state.serialized_custom_status

    def state(self, instance_id: str) -> wf.WorkflowState | None:
        """Read as the management API reads, through daprd 1.18.2's torn reads of a run
        that is saving (docs/sidecar-runtime.md, Known differences)."""
        return read_through_torn_saves(lambda: self.client.get_workflow_state(instance_id))

    def go(self, instance_id: str) -> None:
        self.client.raise_workflow_event(instance_id, "go")

    def start_waiting_and_go(self, name: str) -> str:
        instance_id = self.start_waiting(name)
        self.go(instance_id)
        return instance_id

    def output(self, instance_id: str) -> Any:
        return output_of(self.client, instance_id)

    def wait_stalled(self, instance_id: str) -> pb.ExecutionStalledEvent:
        """Waits for STALLED and returns the history's stall event (the SDK's history
        events carry no reason, so it is read with the workflow API's own call)."""

        def stalled() -> bool:
            state = self.state(instance_id)
            return state is not None and state.runtime_status == wf.WorkflowStatus.STALLED

        wait_until(stalled, WAIT, what="the workflow to stall")
        stub: Any = stub_for(self.app.grpc_address)
        history = stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=instance_id))
        last = history.events[-1]
        assert last.HasField("executionStalled"), last
        stalled_event: pb.ExecutionStalledEvent = last.executionStalled
        return stalled_event


@pytest.fixture
def run(app: AppRuntime, sdk: Sdk) -> Scenario:
    return Scenario(app, sdk)


def patched(*patches: str) -> Callable[[wf.WorkflowRuntime], None]:
    """Registers "order": it checks `patches` in order before it waits for "go", and
    "p-late" after it; a patched branch calls an activity, the old branch does not."""

    def flow(ctx: wf.DaprWorkflowContext, _: Any) -> Generator[Any, Any, list[str]]:
        path: list[str] = []
        for patch in patches:
            if ctx.is_patched(patch):
                path.append((yield ctx.call_activity("step", input=f"{patch}-new")))
            else:
                path.append(f"{patch}-old")
        ctx.set_custom_status("waiting")
        yield ctx.wait_for_external_event("go")
        path.append("late-new" if ctx.is_patched("p-late") else "late-old")
        return path

    return lambda worker: worker.register_workflow(flow, name="order")


def versions(*names: str) -> Callable[[wf.WorkflowRuntime], None]:
    """Registers the named versions of "ship", the last one as the latest; each returns
    its name once it got "go"."""

    def version(name: str) -> Workflow:
        def flow(ctx: wf.DaprWorkflowContext, _: Any) -> Generator[Any, Any, str]:
            yield ctx.call_activity("step", input=name)
            ctx.set_custom_status("waiting")
            yield ctx.wait_for_external_event("go")
            return name

        return flow

    def register(worker: wf.WorkflowRuntime) -> None:
        for name in names:
            worker.register_versioned_workflow(
                version(name), name="ship", version_name=name, is_latest=name == names[-1]
            )

    return register


def test_a_running_instance_keeps_its_patches_when_the_worker_adds_one(run: Scenario) -> None:
    run.deploy(patched("p1"))
    instance_id = run.start_waiting("order")

    run.deploy(patched("p1", "p2"))
    run.go(instance_id)

    # p1 was taken on the first run and is replayed; p2 was not there and is not taken on
    # replay; code that runs for the first time after the restart takes every patch.
    assert run.output(instance_id) == ["p1-new", "p2-old", "late-new"]
    assert run.output(run.start_waiting_and_go("order")) == ["p1-new", "p2-new", "late-new"]


def test_a_running_instance_replays_the_version_it_started_with(run: Scenario) -> None:
    run.deploy(versions("v1"))
    instance_id = run.start_waiting("ship")

    run.deploy(versions("v1", "v2"))
    run.go(instance_id)

    assert run.output(instance_id) == "v1"
    assert run.output(run.start_waiting_and_go("ship")) == "v2"


def test_a_removed_patch_stalls_the_instance_until_a_worker_has_it_again(run: Scenario) -> None:
    run.deploy(patched("p1"))
    instance_id = run.start_waiting("order")

    run.deploy(patched())
    run.go(instance_id)

    stall = run.wait_stalled(instance_id)
    assert stall.reason == pb.PATCH_MISMATCH
    assert stall.description == "Patch mismatch. History patches: [p1], current patches: []. "

    run.deploy(patched("p1"))
    assert run.output(instance_id) == ["p1-new", "late-new"]


def test_a_version_the_worker_no_longer_has_stalls_the_instance(run: Scenario) -> None:
    run.deploy(versions("v1"))
    instance_id = run.start_waiting("ship")

    run.deploy(versions("v2"))
    run.go(instance_id)

    stall = run.wait_stalled(instance_id)
    assert stall.reason == pb.VERSION_NOT_AVAILABLE
    assert stall.description == "Version not available: v1"
