"""The operator's typed view of a WorkflowRun spec, and which events are still to raise."""

from __future__ import annotations

from workflowrun_operator.crd import RunEvent, WorkflowRunSpec, pending_events


def test_defaults_match_the_crd() -> None:
    spec = WorkflowRunSpec.from_spec({"workflowName": "approval"})

    assert spec.workflow_name == "approval"
    assert spec.input is None
    assert spec.instance_id is None
    assert spec.suspend is False
    assert spec.terminate_reason is None
    assert spec.events == ()
    assert spec.ttl_seconds_after_finished is None
    assert spec.purge_on_delete is True


def test_every_field_is_read() -> None:
    spec = WorkflowRunSpec.from_spec(
        {
            "workflowName": "approval",
            "input": {"orderId": "o-1"},
            "instanceId": "approval-o-1",
            "suspend": True,
            "terminate": {"reason": "cancelled"},
            "events": [{"id": "e1", "name": "approval_decision", "data": {"ok": True}}],
            "ttlSecondsAfterFinished": 30,
            "purgeOnDelete": False,
        }
    )

    assert spec.input == {"orderId": "o-1"}
    assert spec.instance_id == "approval-o-1"
    assert spec.suspend is True
    assert spec.terminate_reason == "cancelled"
    assert spec.events == (RunEvent("e1", "approval_decision", {"ok": True}),)
    assert spec.ttl_seconds_after_finished == 30
    assert spec.purge_on_delete is False


def test_pending_events_are_the_unprocessed_ones_in_order_each_once() -> None:
    events = [RunEvent("a", "x"), RunEvent("b", "y"), RunEvent("a", "x"), RunEvent("c", "z")]

    assert [e.id for e in pending_events(events, ["b"])] == ["a", "c"]
    assert pending_events(events, ["a", "b", "c"]) == []
