"""Registers the orchestrator's workflows and activities on a `WorkflowRuntime`.

The SDK marks a registered function (`_workflow_registered` in its `__dict__`) and refuses
to register it twice, so each runtime gets fresh wrappers: a process may build more than
one runtime (the tests do, to replay after a restart) and the module-level functions stay
untouched. Workflows call each other and their activities by these names, never by
function object, so the names below are the whole contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dapr.ext.workflow as wf
from dapr.clients import DaprClient

from foundation.logs import log_context
from services.orchestrator.activities import Activity, OrchestratorActivities
from services.orchestrator.workflows import WORKFLOWS, Workflow
from services.orchestrator.workflows.common import Flow


def register(runtime: wf.WorkflowRuntime, dapr: DaprClient) -> None:
    """Every workflow under its `WorkflowName`, every activity under its `ActivityName`;
    the activities publish and read state through `dapr`."""
    for name, workflow in WORKFLOWS.items():
        runtime.register_workflow(_workflow_entry(workflow), name=str(name))
    for activity_name, activity in OrchestratorActivities(dapr).by_name().items():
        runtime.register_activity(_activity_entry(activity), name=str(activity_name))


def _workflow_entry(workflow: Workflow) -> Callable[[wf.DaprWorkflowContext, Any], Flow]:
    def entry(ctx: wf.DaprWorkflowContext, data: Any) -> Flow:
        return workflow(ctx, data)

    entry.__name__ = entry.__qualname__ = workflow.__name__
    entry.__doc__ = workflow.__doc__
    return entry


def _activity_entry(activity: Activity) -> Activity:
    """The activity with its workflow's instance id on every line it logs."""

    def entry(ctx: wf.WorkflowActivityContext, data: Any) -> Any:
        with log_context(instance_id=ctx.workflow_id):
            return activity(ctx, data)

    entry.__name__ = entry.__qualname__ = getattr(activity, "__name__", "activity")
    entry.__doc__ = activity.__doc__
    return entry
