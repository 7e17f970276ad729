"""Workers of Dapr's other SDKs finish workflows: the JavaScript SDK (like Java's and .NET's)
completes work items without echoing their completion token, and daprd (durabletask-go's
backend) matches such a completion to the current work item of its instance, or of its
instance and task id for an activity. A completion that names an earlier work item by its
token is ignored.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import grpc
import pytest

from sidecar.workflow import history as h
from sidecar.workflow.protos import pb, pb_grpc
from testkit.apps import clean_environ
from testkit.process import ManagedProcess
from testkit.sidecar import stub_for
from tests.fidelity.runtimes import WAIT, AppRuntime, Sdk, output_of

JS_PROJECT = Path(__file__).parent / "js"


@pytest.fixture
def javascript_worker(app: AppRuntime, tmp_path: Path) -> Iterator[ManagedProcess]:
    """tests/fidelity/js/worker.js (`@dapr/dapr` from the project's lock file) on the app."""
    assert shutil.which("node"), "node is required for the JavaScript SDK's worker"
    assert (JS_PROJECT / "node_modules" / "@dapr" / "dapr").is_dir(), (
        "the JavaScript SDK is not installed: run `make fidelity-js` (npm ci in tests/fidelity/js)"
    )
    log_path = tmp_path / "js-worker.log"
    worker = ManagedProcess(
        "javascript worker",
        ["node", "worker.js"],
        log_path,
        env={**clean_environ(), "DAPR_HOST": app.host, "DAPR_GRPC_PORT": str(app.grpc_port)},
        cwd=JS_PROJECT,
        ready=lambda: log_path.exists() and "worker started" in log_path.read_text(),
    )
    worker.start()
    yield worker
    worker.stop()


def test_a_javascript_worker_completes_a_workflow_with_an_activity(
    app: AppRuntime, javascript_worker: ManagedProcess, sdk: Sdk
) -> None:
    client = sdk.client(app)

    instance_id = client.schedule_new_workflow("js_greeting", input="fidelity")

    assert output_of(client, instance_id) == {
        "greeting": "Hello, fidelity!",
        "runtime": "javascript",
    }, javascript_worker.logs()


# -- the raw protocol: what a worker of any SDK sends -----------------------------------------


# A raw test takes a second or two where it passes; on daprd the SDK's schedule call has no
# deadline and may be held unanswered, so the test is bounded well below pytest's timeout.
RAW_TEST_SECONDS = 45


@dataclass
class WorkItemStream:
    """One `GetWorkItems` stream on a channel of its own. Closing the channel ends the
    stream: with OpenTelemetry's gRPC instrumentation on (the SDK turns it on when
    `opentelemetry-instrumentation-grpc` is installed), a streaming call is a plain
    generator with no `cancel()`."""

    channel: grpc.Channel
    items: Iterator[pb.WorkItem]

    def __iter__(self) -> Iterator[pb.WorkItem]:
        return self.items

    def cancel(self) -> None:
        self.channel.close()


@dataclass
class RawWorker:
    """A worker speaking the workflow API by hand, and a client of the same app."""

    address: str
    stub: Any
    client: wf.DaprWorkflowClient

    def stream(self) -> WorkItemStream:
        channel = grpc.insecure_channel(self.address)
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        return WorkItemStream(channel, stub.GetWorkItems(pb.GetWorkItemsRequest(), timeout=WAIT))


@pytest.fixture
def raw(app: AppRuntime, sdk: Sdk) -> RawWorker:
    return RawWorker(app.grpc_address, stub_for(app.grpc_address), sdk.client(app))


def next_work_item(stream: WorkItemStream) -> pb.WorkItem:
    return next(item for item in stream if not item.HasField("healthPing"))


def complete_workflow(instance_id: str, result: str, token: str = "") -> pb.WorkflowResponse:
    action = pb.WorkflowAction(
        id=2,
        completeWorkflow=pb.CompleteWorkflowAction(
            workflowStatus=h.COMPLETED, result=h.string_value(result)
        ),
    )
    return pb.WorkflowResponse(instanceId=instance_id, actions=[action], completionToken=token)


@pytest.mark.differs_on_daprd(
    "the raw worker schedules as soon as it opens its stream; daprd refuses the workflow "
    "(FAILED_PRECONDITION, actor not found) or holds the call unanswered until its actor "
    "types reached placement"
)
@pytest.mark.timeout(RAW_TEST_SECONDS)
def test_completions_without_a_token_are_applied_once(raw: RawWorker) -> None:
    stream = raw.stream()
    try:
        instance_id = raw.client.schedule_new_workflow("raw", input="in")
        first = next_work_item(stream)
        assert first.workflowRequest.instanceId == instance_id
        schedule = pb.WorkflowAction(id=1, scheduleTask=pb.ScheduleTaskAction(name="echo"))
        raw.stub.CompleteOrchestratorTask(
            pb.WorkflowResponse(instanceId=instance_id, actions=[schedule])
        )

        activity = next_work_item(stream).activityRequest
        assert (activity.name, activity.taskId) == ("echo", 1)
        result = pb.ActivityResponse(
            instanceId=instance_id, taskId=1, result=h.string_value('"echoed"')
        )
        raw.stub.CompleteActivityTask(result)
        raw.stub.CompleteActivityTask(result)  # a duplicate: acknowledged, ignored

        second = next_work_item(stream).workflowRequest
        raw.stub.CompleteOrchestratorTask(complete_workflow(instance_id, '"done"'))
        raw.stub.CompleteOrchestratorTask(complete_workflow(instance_id, '"again"'))
    finally:
        stream.cancel()

    assert [h.event_kind(e) for e in second.newEvents] == ["workflowStarted", "taskCompleted"]
    assert output_of(raw.client, instance_id) == "done"
    kinds = [e.event_type for e in raw.client.get_workflow_history(instance_id)]
    assert kinds.count(wf.WorkflowHistoryEventType.TASK_COMPLETED) == 1


@pytest.mark.differs_on_daprd(
    "the raw worker schedules as soon as it opens its stream; daprd refuses the workflow "
    "(FAILED_PRECONDITION, actor not found) or holds the call unanswered until its actor "
    "types reached placement"
)
@pytest.mark.timeout(RAW_TEST_SECONDS)
def test_a_completion_with_the_token_of_an_earlier_work_item_is_ignored(raw: RawWorker) -> None:
    first_stream = raw.stream()
    instance_id = raw.client.schedule_new_workflow("raw", input="in")
    earlier = next_work_item(first_stream)
    first_stream.cancel()  # the worker goes away: its work item is handed out again

    stream = raw.stream()
    try:
        current = next_work_item(stream)
        assert current.workflowRequest.instanceId == instance_id
        assert current.completionToken != earlier.completionToken
        stale = complete_workflow(instance_id, '"stale"', earlier.completionToken)
        raw.stub.CompleteOrchestratorTask(stale)
        raw.stub.CompleteOrchestratorTask(
            complete_workflow(instance_id, '"current"', current.completionToken)
        )
    finally:
        stream.cancel()

    assert output_of(raw.client, instance_id) == "current"
