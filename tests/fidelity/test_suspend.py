"""Suspend and resume are visible when their call returns: daprd's SuspendInstance answers
once the instance is SUSPENDED and ResumeInstance once it is RUNNING again
(durabletask-go backend/executor.go waits for that status), so a client that reads right
after either call sees its effect, without polling.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import dapr.ext.workflow as wf

from tests.fidelity.runtimes import WAIT, AppRuntime, Sdk, output_of


def test_status_right_after_suspend_and_resume_is_their_effect(app: AppRuntime, sdk: Sdk) -> None:
    worker = sdk.worker(app)

    @worker.workflow(name="waits")
    def waits(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, str]:
        value: str = yield ctx.wait_for_external_event("go")
        return value

    worker.start()
    client = sdk.client(app)
    instance_id = client.schedule_new_workflow(waits)
    client.wait_for_workflow_start(instance_id, timeout_in_seconds=WAIT)

    seen = []
    for _ in range(3):
        client.pause_workflow(instance_id)
        seen.append(status(client, instance_id))
        client.resume_workflow(instance_id)
        seen.append(status(client, instance_id))

    assert seen == [wf.WorkflowStatus.SUSPENDED, wf.WorkflowStatus.RUNNING] * 3
    client.raise_workflow_event(instance_id, "go", data="went")
    assert output_of(client, instance_id) == "went"


def status(client: wf.DaprWorkflowClient, instance_id: str) -> wf.WorkflowStatus:
    state = client.get_workflow_state(instance_id, fetch_payloads=False)
    assert state is not None
    return state.runtime_status
