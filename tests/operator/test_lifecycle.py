"""The operator end to end: kopf running the real handlers against kmock, and the orchestrator's
real management API over a real workflow runtime on the embedded sidecar. Nothing is mocked but
the Kubernetes API server (kmock)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial
from typing import Any

import httpx

from services.contracts.names import APPROVAL_DECISION_EVENT
from tests.operator import rbac
from tests.operator.cluster import NAMESPACE, WorkflowRunsInKmock, eventually
from tests.operator.conftest import SETTINGS, Operator, Orchestrator
from tests.operator.stand_ins import APPROVAL, APPROVAL_INPUT, ECHO, ECHO_INPUT
from workflowrun_operator.instance_id import default_instance_id


def approved(event_id: str = "decision-1", approver: str = "alice") -> dict[str, Any]:
    return {
        "id": event_id,
        "name": APPROVAL_DECISION_EVENT,
        "data": {"decision": "approved", "approver": approver},
    }


async def phase_is(cluster: WorkflowRunsInKmock, name: str, phase: str) -> dict[str, Any]:
    status: dict[str, Any] = await eventually(
        lambda: (status := cluster.status(name)).get("phase") == phase and status,
        what=lambda: f"{name} to be {phase} (status: {cluster.status(name)})",
    )
    return status


async def history_kinds(orchestrator: Orchestrator, instance_id: str) -> list[str]:
    async with orchestrator.api() as api:
        response = await api.get(f"/v1/runs/{instance_id}/history")
    response.raise_for_status()
    return [event["kind"] for event in response.json()["events"]]


async def test_created_run_starts_the_instance_and_reports_its_output(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("echo-1", {"workflowName": ECHO, "input": ECHO_INPUT})

    status = await phase_is(cluster, "echo-1", "Succeeded")
    instance_id = default_instance_id(NAMESPACE, "echo-1")
    assert status["instanceId"] == instance_id
    assert status["runtimeStatus"] == "COMPLETED"
    assert status["output"]["echo"]["skus"] == ["sku-1", "sku-2"]
    assert status["observedGeneration"] == 1
    assert status["finishedAt"]
    assert status["startedAt"]
    assert status["createdAt"]
    succeeded = cluster.condition("echo-1", "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("True", "Completed")
    assert cluster.condition("echo-1", "Synced")["status"] == "True"
    assert cluster.condition("echo-1", "Suspended")["status"] == "False"
    run = await orchestrator.run(instance_id)
    assert run is not None
    assert run["status"] == "COMPLETED"
    assert run["name"] == ECHO
    assert SETTINGS.finalizer in (cluster.get("echo-1") or {})["metadata"]["finalizers"]

    # The liveness endpoint answers while the operator runs.
    async with httpx.AsyncClient() as http:
        assert (await http.get(SETTINGS.liveness_endpoint)).status_code == 200

    # A finished run is not polled any more: no sync after it finished.
    finished = datetime.now().astimezone()
    await asyncio.sleep(SETTINGS.sync_interval_seconds * 4)
    await operator.stop()
    lines = operator.log.lines
    syncs_after = [
        line
        for line in lines
        if line.get("msg") == "Timer 'sync_status' is invoked."
        and line.get("object", {}).get("name") == "echo-1"
        and datetime.fromisoformat(line["time"]) > finished
    ]
    assert syncs_after == []
    # Logs are JSON lines naming the resource and the instance.
    started = [line for line in lines if line.get("msg") == "workflow instance started"]
    assert started
    assert started[0]["instance_id"] == instance_id
    assert started[0]["object"]["name"] == "echo-1"
    assert started[0]["object"]["namespace"] == NAMESPACE


async def test_spec_instance_id_names_the_instance(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create(
        "echo-2", {"workflowName": ECHO, "input": ECHO_INPUT, "instanceId": "my-echo"}
    )

    status = await phase_is(cluster, "echo-2", "Succeeded")
    assert status["instanceId"] == "my-echo"
    assert (await orchestrator.run("my-echo") or {}).get("status") == "COMPLETED"


async def test_suspend_and_resume_reach_the_instance(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("approval-1", {"workflowName": APPROVAL, "input": APPROVAL_INPUT})
    status = await phase_is(cluster, "approval-1", "Running")
    instance_id = status["instanceId"]

    await cluster.patch_spec("approval-1", {"suspend": True})
    await phase_is(cluster, "approval-1", "Suspended")
    suspended = cluster.condition("approval-1", "Suspended")
    assert (suspended["status"], suspended["reason"]) == ("True", "Suspended")
    assert cluster.condition("approval-1", "Succeeded")["reason"] == "Suspended"
    assert (await orchestrator.run(instance_id) or {}).get("status") == "SUSPENDED"
    assert cluster.status("approval-1")["observedGeneration"] == 2

    await cluster.patch_spec("approval-1", {"suspend": False})
    await phase_is(cluster, "approval-1", "Running")
    assert cluster.condition("approval-1", "Suspended")["status"] == "False"
    assert (await orchestrator.run(instance_id) or {}).get("status") == "RUNNING"


async def test_event_appended_to_spec_completes_the_approval_run_once(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("approval-2", {"workflowName": APPROVAL, "input": APPROVAL_INPUT})
    instance_id = (await phase_is(cluster, "approval-2", "Running"))["instanceId"]

    await cluster.patch_spec("approval-2", {"events": [approved()]})

    status = await phase_is(cluster, "approval-2", "Succeeded")
    assert status["output"] == {"orderId": "o-1", "decision": "approved", "approver": "alice"}
    assert status["processedEvents"] == ["decision-1"]

    # Another entry is raised too (into a finished run: recorded, with a Warning event), and
    # the first one is not raised again, not even by an operator that restarted.
    await cluster.patch_spec("approval-2", {"events": [approved(), approved("decision-2", "bob")]})
    await eventually(
        lambda: cluster.status("approval-2").get("processedEvents") == ["decision-1", "decision-2"],
        what="decision-2 to be processed",
    )
    await operator.restart()
    await eventually(
        lambda: any(
            event.get("reason") == "EventNotDelivered" for event in cluster.events_posted()
        ),
        what="a Warning event for the event the finished run could not take",
    )
    assert (await history_kinds(orchestrator, instance_id)).count("EventRaised") == 1


async def test_events_listed_at_creation_are_raised_after_the_start(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create(
        "approval-3",
        {"workflowName": APPROVAL, "input": APPROVAL_INPUT, "events": [approved()]},
    )

    status = await phase_is(cluster, "approval-3", "Succeeded")
    assert status["output"]["decision"] == "approved"
    assert status["processedEvents"] == ["decision-1"]


async def test_terminate_ends_the_run(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("approval-4", {"workflowName": APPROVAL, "input": APPROVAL_INPUT})
    instance_id = (await phase_is(cluster, "approval-4", "Running"))["instanceId"]

    await cluster.patch_spec("approval-4", {"terminate": {"reason": "order cancelled"}})

    status = await phase_is(cluster, "approval-4", "Terminated")
    succeeded = cluster.condition("approval-4", "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "Terminated")
    assert status["output"] == {"terminated": True, "reason": "order cancelled"}
    assert (await orchestrator.run(instance_id) or {}).get("status") == "TERMINATED"


async def test_delete_terminates_and_purges_the_instance_then_releases_the_resource(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("approval-5", {"workflowName": APPROVAL, "input": APPROVAL_INPUT})
    instance_id = (await phase_is(cluster, "approval-5", "Running"))["instanceId"]

    await cluster.delete("approval-5")

    await eventually(lambda: cluster.get("approval-5") is None, what="the finalizer to go")
    assert await orchestrator.run(instance_id) is None  # terminated, then purged


async def test_delete_without_purge_keeps_the_terminated_instance(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create(
        "approval-6",
        {"workflowName": APPROVAL, "input": APPROVAL_INPUT, "purgeOnDelete": False},
    )
    instance_id = (await phase_is(cluster, "approval-6", "Running"))["instanceId"]

    await cluster.delete("approval-6")

    await eventually(lambda: cluster.get("approval-6") is None, what="the finalizer to go")
    run = await eventually(
        lambda: orchestrator.run(instance_id), what="the instance to be still there"
    )
    assert run["status"] == "TERMINATED"


async def test_delete_of_a_run_whose_instance_is_gone_completes(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("echo-3", {"workflowName": ECHO, "input": ECHO_INPUT})
    instance_id = (await phase_is(cluster, "echo-3", "Succeeded"))["instanceId"]
    async with orchestrator.api() as api:
        (await api.delete(f"/v1/runs/{instance_id}")).raise_for_status()  # purged elsewhere

    await cluster.delete("echo-3")

    await eventually(lambda: cluster.get("echo-3") is None, what="the finalizer to go")


async def test_operator_restart_adopts_running_and_finished_instances_without_rerunning(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("approval-7", {"workflowName": APPROVAL, "input": APPROVAL_INPUT})
    await cluster.create("approval-8", {"workflowName": APPROVAL, "input": APPROVAL_INPUT})
    running_id = (await phase_is(cluster, "approval-7", "Running"))["instanceId"]
    finishing_id = (await phase_is(cluster, "approval-8", "Running"))["instanceId"]
    created = {
        instance_id: (await orchestrator.run(instance_id) or {})["createdAt"]
        for instance_id in (running_id, finishing_id)
    }

    await operator.stop()
    # While the operator is away, one of the runs finishes.
    async with orchestrator.api() as api:
        response = await api.post(
            f"/v1/runs/{finishing_id}/events/{APPROVAL_DECISION_EVENT}",
            json={"data": {"decision": "rejected", "approver": "carol"}},
        )
        response.raise_for_status()
    await eventually(
        lambda: _status_of(orchestrator, finishing_id, "COMPLETED"), what="the run to finish"
    )
    await operator.start()

    status = await phase_is(cluster, "approval-8", "Succeeded")
    assert status["output"]["decision"] == "rejected"  # the first run's result, adopted
    await cluster.patch_spec("approval-7", {"events": [approved()]})
    await phase_is(cluster, "approval-7", "Succeeded")
    for instance_id in (running_id, finishing_id):
        run = await orchestrator.run(instance_id)
        assert run is not None
        assert run["createdAt"] == created[instance_id]
        assert (await history_kinds(orchestrator, instance_id)).count("ExecutionStarted") == 1


def unsynced(cluster: WorkflowRunsInKmock, name: str) -> dict[str, Any] | None:
    synced = cluster.condition(name, "Synced")
    return synced if synced.get("status") == "False" else None


async def _status_of(orchestrator: Orchestrator, instance_id: str, expected: str) -> bool:
    return ((await orchestrator.run(instance_id)) or {}).get("status") == expected


async def test_unreachable_orchestrator_marks_runs_unsynced_until_it_is_back(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("approval-9", {"workflowName": APPROVAL, "input": APPROVAL_INPUT})
    await phase_is(cluster, "approval-9", "Running")

    orchestrator.stop()
    # A run created meanwhile waits too (temporary errors, retried with backoff).
    await cluster.create("echo-4", {"workflowName": ECHO, "input": ECHO_INPUT})
    for name in ("approval-9", "echo-4"):
        synced = await eventually(partial(unsynced, cluster, name), what=f"{name} to be unsynced")
        assert synced["reason"] == "OrchestratorUnavailable"
    assert cluster.status("approval-9")["phase"] == "Running"  # last known, not a failure
    assert cluster.status("echo-4")["phase"] == "Pending"

    orchestrator.start()
    await phase_is(cluster, "echo-4", "Succeeded")
    await eventually(
        lambda: cluster.condition("approval-9", "Synced").get("status") == "True",
        what="approval-9 to be synced again",
    )
    assert cluster.condition("echo-4", "Synced")["status"] == "True"


async def test_unknown_workflow_fails_the_run_for_good_with_a_reason_and_an_event(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("typo-1", {"workflowName": "no_such_workflow", "input": {}})

    status = await phase_is(cluster, "typo-1", "Failed")
    succeeded = cluster.condition("typo-1", "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "UnknownWorkflow")
    assert "no_such_workflow" in succeeded["message"]
    assert status["failure"]["type"] == "UnknownWorkflow"
    warnings = [
        event
        for event in cluster.events_posted()
        if event.get("reason") == "UnknownWorkflow" and event["involvedObject"]["name"] == "typo-1"
    ]
    assert warnings
    assert warnings[0]["type"] == "Warning"

    # Not a crash loop: the operator goes on serving other runs, and deletes this one cleanly.
    await cluster.create("echo-5", {"workflowName": ECHO, "input": ECHO_INPUT})
    await phase_is(cluster, "echo-5", "Succeeded")
    await cluster.delete("typo-1")
    await eventually(lambda: cluster.get("typo-1") is None, what="typo-1 to go")


async def test_input_the_workflow_refuses_fails_the_run_as_invalid_spec(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create("bad-input-1", {"workflowName": ECHO, "input": {"skus": []}})

    await phase_is(cluster, "bad-input-1", "Failed")
    succeeded = cluster.condition("bad-input-1", "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "InvalidSpec")
    assert any(event.get("reason") == "InvalidSpec" for event in cluster.events_posted())
    assert await orchestrator.run(cluster.status("bad-input-1")["instanceId"]) is None


async def test_finished_run_is_deleted_after_its_ttl_with_exactly_the_rbac_it_has(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator, operator: Operator
) -> None:
    await cluster.create(
        "echo-6", {"workflowName": ECHO, "input": ECHO_INPUT, "ttlSecondsAfterFinished": 1}
    )
    instance_id = (await phase_is(cluster, "echo-6", "Succeeded"))["instanceId"]

    await eventually(lambda: cluster.get("echo-6") is None, what="the TTL to delete echo-6")
    assert await orchestrator.run(instance_id) is None  # the finalizer purged it

    # This run used every verb the operator has: list/watch, patch (finalizer, annotations),
    # status patch, event creation, delete; and nothing more.
    assert rbac.verbs_used(cluster.kmock) == rbac.granted()
