"""The pure status builders: phases, conditions (with their transition times), status patches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from workflowrun_operator.client import RunFailure, RunState
from workflowrun_operator.status import (
    MAX_MESSAGE_LENGTH,
    Condition,
    ConditionType,
    Phase,
    Reason,
    merge_condition,
    phase_for,
    seconds_until_expiry,
    status_for_rejected,
    status_for_run,
    status_for_unavailable,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def run(status: str, **fields: Any) -> RunState:
    values: dict[str, Any] = {
        "instance_id": "wfr-ns-run-12345678",
        "name": "approval",
        "runtime_status": status,
        "created_at": "2026-01-02T03:04:05.100000Z",
        "last_updated_at": "2026-01-02T03:09:05.200000Z",
        "input": {"orderId": "o-1"},
        "output": None,
        "custom_status": None,
        "failure": None,
    }
    values.update(fields)
    return RunState(**values)


def condition(status: dict[str, Any], condition_type: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == condition_type)


@pytest.mark.parametrize(
    ("runtime_status", "phase"),
    [
        ("PENDING", Phase.PENDING),
        ("RUNNING", Phase.RUNNING),
        ("CONTINUED_AS_NEW", Phase.RUNNING),
        ("STALLED", Phase.RUNNING),
        ("SUSPENDED", Phase.SUSPENDED),
        ("COMPLETED", Phase.SUCCEEDED),
        ("FAILED", Phase.FAILED),
        ("TERMINATED", Phase.TERMINATED),
        ("CANCELED", Phase.TERMINATED),
        ("running", Phase.RUNNING),
        ("SOMETHING_NEW", Phase.PENDING),
    ],
)
def test_phase_follows_the_runtime_status(runtime_status: str, phase: Phase) -> None:
    assert phase_for(runtime_status) is phase


def test_a_running_run_is_running_with_success_unknown() -> None:
    status = status_for_run(run("RUNNING"), previous={}, generation=3, now=T0)

    assert status["phase"] == "Running"
    assert status["runtimeStatus"] == "RUNNING"
    assert status["instanceId"] == "wfr-ns-run-12345678"
    assert status["observedGeneration"] == 3
    assert status["startedAt"] == "2026-01-02T03:04:05Z"
    assert status["finishedAt"] is None
    assert status["output"] is None
    assert status["failure"] is None
    assert condition(status, "Succeeded") == {
        "type": "Succeeded",
        "status": "Unknown",
        "reason": "Running",
        "message": "workflow approval is running",
        "lastTransitionTime": "2026-01-02T03:04:05Z",
        "observedGeneration": 3,
    }
    assert condition(status, "Suspended")["status"] == "False"
    assert condition(status, "Synced")["status"] == "True"


def test_a_completed_run_succeeded_with_its_output_and_finish_time() -> None:
    previous = status_for_run(run("RUNNING"), previous={}, generation=1, now=T0)

    status = status_for_run(
        run("COMPLETED", output={"decision": "approved"}), previous=previous, generation=1, now=T1
    )

    assert status["phase"] == "Succeeded"
    assert status["output"] == {"decision": "approved"}
    assert status["startedAt"] == previous["startedAt"]
    assert status["finishedAt"] == "2026-01-02T03:09:05.200000Z"
    succeeded = condition(status, "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("True", "Completed")
    assert succeeded["lastTransitionTime"] == "2026-01-02T03:09:05Z"


def test_finish_time_once_recorded_stays() -> None:
    first = status_for_run(run("COMPLETED"), previous={}, generation=1, now=T0)
    later = status_for_run(
        run("COMPLETED", last_updated_at="2026-02-01T00:00:00Z"),
        previous=first,
        generation=1,
        now=T1,
    )
    assert later["finishedAt"] == first["finishedAt"]


def test_a_failed_run_carries_the_failure() -> None:
    failed = run("FAILED", failure=RunFailure(type="ValueError", message="card declined"))

    status = status_for_run(failed, previous={}, generation=1, now=T0)

    assert status["phase"] == "Failed"
    assert status["failure"] == {"type": "ValueError", "message": "card declined"}
    succeeded = condition(status, "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "Failed")
    assert succeeded["message"] == "ValueError: card declined"


def test_a_terminated_run_did_not_succeed() -> None:
    status = status_for_run(run("TERMINATED"), previous={}, generation=1, now=T0)

    assert status["phase"] == "Terminated"
    succeeded = condition(status, "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "Terminated")


def test_a_suspended_run_is_suspended() -> None:
    status = status_for_run(run("SUSPENDED"), previous={}, generation=2, now=T0)

    assert status["phase"] == "Suspended"
    assert (condition(status, "Suspended")["status"], condition(status, "Suspended")["reason"]) == (
        "True",
        "Suspended",
    )
    assert condition(status, "Succeeded")["reason"] == "Suspended"


def test_transition_time_stays_while_a_condition_keeps_its_status() -> None:
    first = merge_condition(
        [],
        Condition(ConditionType.SUCCEEDED, "Unknown", Reason.PENDING, "pending"),
        now=T0,
        generation=1,
    )
    same_status = merge_condition(
        first,
        Condition(ConditionType.SUCCEEDED, "Unknown", Reason.RUNNING, "running"),
        now=T1,
        generation=2,
    )
    changed = merge_condition(
        same_status,
        Condition(ConditionType.SUCCEEDED, "True", Reason.COMPLETED, "done"),
        now=T1,
        generation=2,
    )

    assert same_status[0]["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    assert (same_status[0]["reason"], same_status[0]["observedGeneration"]) == ("Running", 2)
    assert changed[0]["lastTransitionTime"] == "2026-01-02T03:09:05Z"


def test_setting_one_condition_keeps_the_others_in_place() -> None:
    existing: list[dict[str, Any]] = [
        {"type": "Succeeded", "status": "Unknown", "reason": "Running", "message": "", "x": 1},
        {"type": "Synced", "status": "True", "reason": "Synced", "message": ""},
    ]

    merged = merge_condition(
        existing,
        Condition(ConditionType.SUSPENDED, "True", Reason.SUSPENDED, "suspended"),
        now=T0,
        generation=None,
    )

    assert [c["type"] for c in merged] == ["Succeeded", "Synced", "Suspended"]
    assert merged[0] == existing[0]
    assert "observedGeneration" not in merged[2]


def test_a_long_message_is_cut_to_fit_a_condition() -> None:
    merged = merge_condition(
        [],
        Condition(ConditionType.SUCCEEDED, "False", Reason.FAILED, "x" * 100_000),
        now=T0,
        generation=1,
    )
    assert len(merged[0]["message"]) == MAX_MESSAGE_LENGTH
    assert merged[0]["message"].endswith("...")


def test_an_unreachable_orchestrator_only_changes_synced() -> None:
    previous = status_for_run(run("RUNNING"), previous={}, generation=1, now=T0)

    patch = status_for_unavailable("connection refused", previous=previous, generation=1, now=T1)

    assert set(patch) == {"conditions"}  # the last known phase and instance stay
    synced = condition(patch, "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "OrchestratorUnavailable")
    assert synced["message"] == "connection refused"
    assert synced["lastTransitionTime"] == "2026-01-02T03:09:05Z"
    assert condition(patch, "Succeeded") == condition(previous, "Succeeded")


def test_an_unreachable_orchestrator_before_the_start_leaves_the_run_pending() -> None:
    patch = status_for_unavailable("timed out", previous={}, generation=1, now=T0)

    assert patch["phase"] == "Pending"
    assert (condition(patch, "Succeeded")["status"], condition(patch, "Succeeded")["reason"]) == (
        "Unknown",
        "Pending",
    )


def test_a_refused_token_says_so() -> None:
    patch = status_for_unavailable("401", previous={}, generation=1, now=T0, unauthorized=True)
    assert condition(patch, "Synced")["reason"] == "OrchestratorUnauthorized"


@pytest.mark.parametrize("reason", [Reason.UNKNOWN_WORKFLOW, Reason.INVALID_SPEC])
def test_a_run_that_cannot_start_fails_with_the_reason(reason: Reason) -> None:
    patch = status_for_rejected(
        "wfr-ns-run-12345678", reason, "no workflow 'x'", previous={}, generation=1, now=T0
    )

    assert patch["phase"] == "Failed"
    assert patch["instanceId"] == "wfr-ns-run-12345678"
    assert patch["failure"] == {"type": str(reason), "message": "no workflow 'x'"}
    assert patch["finishedAt"] == "2026-01-02T03:04:05Z"
    succeeded = condition(patch, "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", str(reason))
    assert condition(patch, "Synced")["status"] == "True"


def test_ttl_counts_from_the_finish() -> None:
    finished = {"phase": "Succeeded", "finishedAt": "2026-01-02T03:04:05Z"}

    assert seconds_until_expiry(finished, 60, now=T0 + timedelta(seconds=20)) == 40
    assert seconds_until_expiry(finished, 0, now=T0 + timedelta(seconds=20)) == -20
    assert seconds_until_expiry(finished, None, now=T0) is None
    assert seconds_until_expiry({"phase": "Running"}, 60, now=T0) is None
    assert seconds_until_expiry({"phase": "Failed"}, 60, now=T0) is None  # no finish time
