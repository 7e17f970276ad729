"""Waiting for a workflow's end and reading its output, shared by the engine's test files."""

from __future__ import annotations

import json
from typing import Any

import dapr.ext.workflow as wf

WAIT = 30


def finished(client: wf.DaprWorkflowClient, instance_id: str) -> wf.WorkflowState:
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=WAIT)
    assert state is not None, f"workflow {instance_id} vanished"
    return state


def output_of(state: wf.WorkflowState) -> Any:
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED, str(state)
    return json.loads(state.serialized_output)
