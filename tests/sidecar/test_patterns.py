"""The seed's workflow patterns, written as app code is, against the embedded sidecar."""

from __future__ import annotations

import json
from collections.abc import Callable

import dapr.ext.workflow as wf


def test_task_chaining_passes_each_result_to_the_next_activity(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.activity(name="append")
    def append(ctx: wf.WorkflowActivityContext, text: str) -> str:
        return text + "!"

    @runtime.workflow(name="chain")
    def chain(ctx: wf.DaprWorkflowContext, text: str):  # type: ignore[no-untyped-def]
        for _ in range(3):
            text = yield ctx.call_activity(append, input=text)
        return text

    runtime.start()
    instance_id = client.schedule_new_workflow(chain, input="go")
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)

    assert state is not None
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert json.loads(state.serialized_output) == "go!!!"
