"""Errors the embedded sidecar answers with: the gRPC code, the ErrorInfo reason, the message.

Each is provoked through the Dapr SDK where it has a call, and through the raw
`TaskHubSidecarService` stub otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from typing import Any

import dapr.ext.workflow as wf
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from sidecar.workflow.protos import pb
from testkit.sidecar import SidecarProcess, stub_for
from tests.sidecar.outcomes import WAIT, finished

MIB = 1024 * 1024
LIMIT = 4 * MIB  # the sidecar's default --max-body-size
# Just over the limit, and a full 1 MiB over it: both must get the sidecar's own answer.
OVERSIZES = [pytest.param(int(4.5 * MIB), id="4.5MiB"), pytest.param(5 * MIB, id="5MiB")]


def reason_of(error: grpc.RpcError) -> str | None:
    """The `google.rpc.ErrorInfo` reason carried in the error's status details."""
    status = rpc_status.from_call(error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return None


def register_basics(runtime: wf.WorkflowRuntime) -> None:
    @runtime.activity(name="double")
    def double(ctx: wf.WorkflowActivityContext, n: int) -> int:
        return n * 2

    @runtime.workflow(name="doubler")
    def doubler(ctx: wf.DaprWorkflowContext, n: int) -> Generator[Any, Any, int]:
        doubled: int = yield ctx.call_activity(double, input=n)
        return doubled

    @runtime.workflow(name="idle")
    def idle(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, Any]:
        return (yield ctx.wait_for_external_event("never"))


def assert_engine_still_runs_workflows(client: wf.DaprWorkflowClient) -> None:
    instance_id = client.schedule_new_workflow("doubler", input=21)
    state = finished(client, instance_id)
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED, str(state)
    assert json.loads(state.serialized_output) == 42


def test_getting_an_unknown_instance_answers_exists_false(
    client: wf.DaprWorkflowClient, sidecar: SidecarProcess
) -> None:
    # daprd (since 1.15) and durabletask-go answer GetInstance for an unknown id with
    # exists=false, which every durabletask client turns into None.
    stub = stub_for(sidecar.address)
    response = stub.GetInstance(pb.GetInstanceRequest(instanceId="nobody"), timeout=WAIT)

    assert response.exists is False
    assert client.get_workflow_state("nobody") is None


def test_waiting_for_an_unknown_instance_is_not_found(sidecar: SidecarProcess) -> None:
    stub = stub_for(sidecar.address)
    with pytest.raises(grpc.RpcError) as caught:
        stub.WaitForInstanceStart(pb.GetInstanceRequest(instanceId="nobody"), timeout=WAIT)

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason_of(caught.value) == "WORKFLOW_NOT_FOUND"
    assert "nobody" in (caught.value.details() or "")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.get_workflow_history("nobody"), id="history"),
        pytest.param(lambda c: c.terminate_workflow("nobody"), id="terminate"),
        pytest.param(lambda c: c.pause_workflow("nobody"), id="suspend"),
        pytest.param(lambda c: c.resume_workflow("nobody"), id="resume"),
        pytest.param(lambda c: c.purge_workflow("nobody"), id="purge"),
        pytest.param(lambda c: c.rerun_workflow_from_event("nobody", 1), id="rerun"),
    ],
)
def test_operations_on_an_unknown_instance_are_not_found(
    client: wf.DaprWorkflowClient, call: Callable[[wf.DaprWorkflowClient], object]
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call(client)

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason_of(caught.value) == "WORKFLOW_NOT_FOUND"


def test_duplicate_id_of_a_running_instance_is_already_exists(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    register_basics(runtime)
    runtime.start()
    client.schedule_new_workflow("idle", instance_id="busy")
    client.wait_for_workflow_start("busy", timeout_in_seconds=WAIT)

    with pytest.raises(grpc.RpcError) as caught:
        client.schedule_new_workflow("doubler", input=1, instance_id="busy")

    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert reason_of(caught.value) == "WORKFLOW_ALREADY_EXISTS"
    assert "busy" in (caught.value.details() or "")
    # The running instance is left as it was.
    state = client.get_workflow_state("busy")
    assert state is not None
    assert state.runtime_status == wf.WorkflowStatus.RUNNING
    assert state.name == "idle"


def test_duplicate_id_of_a_pending_instance_is_already_exists(
    client: wf.DaprWorkflowClient,
) -> None:
    # No worker is connected, so the first instance stays PENDING.
    client.schedule_new_workflow("doubler", input=1, instance_id="queued")

    with pytest.raises(grpc.RpcError) as caught:
        client.schedule_new_workflow("doubler", input=2, instance_id="queued")

    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert reason_of(caught.value) == "WORKFLOW_ALREADY_EXISTS"


def test_purge_of_a_running_instance_is_failed_precondition(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    register_basics(runtime)
    runtime.start()
    client.schedule_new_workflow("idle", instance_id="live")
    client.wait_for_workflow_start("live", timeout_in_seconds=WAIT)

    with pytest.raises(grpc.RpcError) as caught:
        client.purge_workflow("live")

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(caught.value) == "WORKFLOW_NOT_TERMINAL"
    assert "RUNNING" in (caught.value.details() or "")
    # Nothing was removed: the instance still runs to completion once told to.
    client.terminate_workflow("live")
    assert finished(client, "live").runtime_status == wf.WorkflowStatus.TERMINATED
    client.purge_workflow("live")
    assert client.get_workflow_state("live") is None


@pytest.mark.parametrize("size", OVERSIZES)
def test_oversized_workflow_input_is_refused_with_the_limit_in_the_message(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient, size: int
) -> None:
    runtime = make_runtime()
    register_basics(runtime)
    runtime.start()

    with pytest.raises(grpc.RpcError) as caught:
        client.schedule_new_workflow("doubler", input="x" * size, instance_id="huge")

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert reason_of(caught.value) == "PAYLOAD_TOO_LARGE"
    assert str(LIMIT) in (caught.value.details() or "")
    assert client.get_workflow_state("huge") is None
    assert_engine_still_runs_workflows(client)


@pytest.mark.parametrize("size", OVERSIZES)
def test_oversized_activity_result_fails_the_activity_with_the_limit_in_the_message(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient, size: int
) -> None:
    runtime = make_runtime()
    register_basics(runtime)

    @runtime.activity(name="blow_up")
    def blow_up(ctx: wf.WorkflowActivityContext, _: None) -> str:
        return "x" * size

    @runtime.workflow(name="greedy")
    def greedy(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, dict[str, str]]:
        try:
            yield ctx.call_activity(blow_up)
        except wf.TaskFailedError as error:
            return {"message": error.details.message}
        return {"message": "no error"}

    runtime.start()
    instance_id = client.schedule_new_workflow(greedy)

    state = finished(client, instance_id)
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED, str(state)
    # The SDK fails an activity whose result the sidecar refuses, quoting the refusal.
    message = json.loads(state.serialized_output)["message"]
    assert "exceeds" in message
    assert str(LIMIT) in message
    assert_engine_still_runs_workflows(client)


def test_rerun_of_an_unfinished_instance_is_an_invalid_argument(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    register_basics(runtime)
    runtime.start()
    client.schedule_new_workflow("idle", instance_id="unfinished")
    client.wait_for_workflow_start("unfinished", timeout_in_seconds=WAIT)

    with pytest.raises(grpc.RpcError) as caught:
        client.rerun_workflow_from_event("unfinished", 0)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(caught.value) == "WORKFLOW_NOT_RERUNNABLE"
