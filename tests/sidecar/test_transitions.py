"""Unit tests of the pure history rules in `sidecar.workflow.transitions` (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import wrappers_pb2

from sidecar.workflow import history as h
from sidecar.workflow.protos import pb
from sidecar.workflow.records import Instance, ParentRef
from sidecar.workflow.transitions import (
    ChildStart,
    Message,
    apply_new_events,
    apply_turn,
    execution_started,
)

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = NOW + timedelta(seconds=10)
PARENT = ParentRef("parent-1", "parent-exec", 4, "parent_wf")


def next_execution() -> str:
    """The id `apply_turn` gives the execution a `continue_as_new` starts."""
    return "exec-2"


def make_instance(status: int = h.PENDING, **fields: object) -> Instance:
    instance = Instance(
        instance_id="wf-1",
        execution_id="exec-1",
        name="order",
        created_at=NOW,
        last_updated_at=NOW,
        status=status,
        input='"in"',
    )
    for name, value in fields.items():
        setattr(instance, name, value)
    return instance


def first_turn_events(instance: Instance) -> list[pb.HistoryEvent]:
    return [
        h.workflow_started(NOW),
        execution_started(
            NOW,
            instance.instance_id,
            instance.execution_id,
            instance.name,
            instance.input,
            instance.parent,
        ),
    ]


def running(**fields: object) -> Instance:
    """An instance whose first turn has been committed."""
    instance = make_instance(h.RUNNING, started_at=NOW, **fields)
    instance.history = first_turn_events(instance)
    return instance


def response(*actions: pb.WorkflowAction, custom_status: str | None = None) -> pb.WorkflowResponse:
    return pb.WorkflowResponse(
        instanceId="wf-1", actions=actions, customStatus=h.string_value(custom_status)
    )


def schedule(action_id: int, name: str = "charge", data: str | None = '"x"') -> pb.WorkflowAction:
    return pb.WorkflowAction(
        id=action_id,
        scheduleTask=pb.ScheduleTaskAction(
            name=name, input=h.string_value(data), taskExecutionId=f"task-{action_id}"
        ),
    )


def timer(action_id: int, fire_at: datetime) -> pb.WorkflowAction:
    return pb.WorkflowAction(
        id=action_id, createTimer=pb.CreateTimerAction(fireAt=h.timestamp(fire_at))
    )


def complete(
    status: int = h.COMPLETED,
    result: str | None = '"done"',
    failure: pb.TaskFailureDetails | None = None,
    carryover: list[pb.HistoryEvent] | None = None,
) -> pb.WorkflowAction:
    return pb.WorkflowAction(
        id=-1,
        completeWorkflow=pb.CompleteWorkflowAction(
            workflowStatus=status,  # type: ignore[arg-type]
            result=h.string_value(result),
            failureDetails=failure,
            carryoverEvents=carryover or [],
        ),
    )


def child(action_id: int, instance_id: str, name: str = "child_wf") -> pb.WorkflowAction:
    return pb.WorkflowAction(
        id=action_id,
        createChildWorkflow=pb.CreateChildWorkflowAction(
            instanceId=instance_id, name=name, input=h.string_value('"c"')
        ),
    )


def kinds(events: list[pb.HistoryEvent]) -> list[str]:
    return [h.event_kind(e) for e in events]


# -- new events ---------------------------------------------------------------------------


def test_execution_started_event_moves_a_pending_instance_to_running() -> None:
    instance = make_instance()

    apply_new_events(instance, first_turn_events(instance), LATER)

    assert instance.status == h.RUNNING
    assert instance.started_at == LATER


def test_suspend_and_resume_events_toggle_the_status() -> None:
    instance = running()

    apply_new_events(instance, [h.execution_suspended(NOW, "maintenance")], NOW)
    assert instance.status == h.SUSPENDED
    apply_new_events(instance, [h.execution_resumed(NOW, None)], NOW)
    assert instance.status == h.RUNNING


def test_resume_of_a_running_instance_changes_nothing() -> None:
    instance = running()

    apply_new_events(instance, [h.execution_resumed(NOW, None)], NOW)

    assert instance.status == h.RUNNING


def test_execution_started_carries_the_parent_and_scheduled_start() -> None:
    event = execution_started(NOW, "c-1", "e-1", "child_wf", '"in"', PARENT, scheduled_start=LATER)

    started = event.executionStarted
    assert event.eventId == -1
    assert started.name == "child_wf"
    assert started.input.value == '"in"'
    assert started.workflowInstance.instanceId == "c-1"
    assert started.workflowInstance.executionId.value == "e-1"
    assert started.parentInstance.workflowInstance.instanceId == "parent-1"
    assert started.parentInstance.taskScheduledId == 4
    assert h.to_datetime(started.scheduledStartTimestamp) == LATER


# -- actions ------------------------------------------------------------------------------


def test_apply_turn_leaves_the_given_instance_untouched() -> None:
    instance = make_instance()
    events = first_turn_events(instance)

    apply_turn(instance, events, response(schedule(0), complete()), LATER, next_execution)

    assert instance.status == h.PENDING
    assert instance.history == []
    assert instance.output is None
    assert instance.last_updated_at == NOW


def test_first_turn_appends_its_new_events_and_starts_the_instance() -> None:
    instance = make_instance()
    events = first_turn_events(instance)

    outcome = apply_turn(instance, events, response(), LATER, next_execution)

    assert outcome.instance.status == h.RUNNING
    assert outcome.appended == events
    assert outcome.instance.history == events
    assert outcome.instance.last_updated_at == LATER
    assert not outcome.completed


def test_schedule_task_records_the_event_and_requests_the_activity() -> None:
    instance = running()

    outcome = apply_turn(
        instance, [], response(schedule(0), schedule(1, "ship")), NOW, next_execution
    )

    scheduled = [e for e in outcome.appended if h.event_kind(e) == "taskScheduled"]
    assert [(e.eventId, e.taskScheduled.name) for e in scheduled] == [(0, "charge"), (1, "ship")]
    assert scheduled[0].taskScheduled.taskExecutionId == "task-0"
    first = outcome.activities[0]
    assert (first.name, first.taskId, first.input.value) == ("charge", 0, '"x"')
    assert first.workflowInstance.instanceId == "wf-1"
    assert first.workflowInstance.executionId.value == "exec-1"
    assert first.taskExecutionId == "task-0"
    assert [a.taskId for a in outcome.activities] == [0, 1]
    assert outcome.instance.history[-2:] == scheduled


def test_create_timer_records_the_event_and_schedules_it_to_fire() -> None:
    outcome = apply_turn(running(), [], response(timer(3, LATER)), NOW, next_execution)

    assert kinds(outcome.appended) == ["timerCreated"]
    assert outcome.appended[0].eventId == 3
    [(fire_at, fired)] = outcome.timers
    assert fire_at == LATER
    assert fired.timerFired.timerId == 3
    assert h.to_datetime(fired.timerFired.fireAt) == LATER


def test_a_timer_set_for_never_is_recorded_but_never_fires() -> None:
    outcome = apply_turn(running(), [], response(timer(3, h.NEVER)), NOW, next_execution)

    assert kinds(outcome.appended) == ["timerCreated"]
    assert outcome.timers == []


def test_create_child_workflow_records_the_event_and_starts_the_child() -> None:
    outcome = apply_turn(running(), [], response(child(2, "wf-1-c")), NOW, next_execution)

    assert kinds(outcome.appended) == ["childWorkflowInstanceCreated"]
    assert outcome.appended[0].eventId == 2
    assert outcome.children == [
        ChildStart(
            instance_id="wf-1-c",
            name="child_wf",
            input='"c"',
            parent=ParentRef("wf-1", "exec-1", 2, "order"),
            version=None,
        )
    ]


def test_send_event_records_it_and_posts_it_to_the_target() -> None:
    action = pb.WorkflowAction(
        id=5,
        sendEvent=pb.SendEventAction(
            instance=pb.WorkflowInstance(instanceId="other"),
            name="poke",
            data=wrappers_pb2.StringValue(value="1"),
        ),
    )

    outcome = apply_turn(running(), [], response(action), NOW, next_execution)

    assert kinds(outcome.appended) == ["eventSent"]
    [message] = outcome.messages
    assert message.instance_id == "other"
    assert message.execution_id is None
    assert message.event.eventRaised.name == "poke"
    assert message.event.eventRaised.input.value == "1"


def test_custom_status_follows_the_latest_response() -> None:
    instance = running(custom_status="old")

    changed = apply_turn(instance, [], response(custom_status="new"), NOW, next_execution)
    assert changed.instance.custom_status == "new"
    assert apply_turn(instance, [], response(), NOW, next_execution).instance.custom_status is None


def test_stalled_when_no_version_can_replay_the_history() -> None:
    action = pb.WorkflowAction(
        id=-1, workflowVersionNotAvailable=pb.WorkflowVersionNotAvailableAction()
    )

    outcome = apply_turn(running(), [], response(action), NOW, next_execution)

    assert outcome.instance.status == h.STALLED
    assert kinds(outcome.appended) == ["executionStalled"]


# -- completion ---------------------------------------------------------------------------


def test_completion_records_status_output_and_completed_event() -> None:
    outcome = apply_turn(running(), [], response(complete()), LATER, next_execution)

    assert outcome.completed
    after = outcome.instance
    assert (after.status, after.output, after.completed_at) == (h.COMPLETED, '"done"', LATER)
    assert kinds(outcome.appended) == ["executionCompleted"]
    completed = outcome.appended[0].executionCompleted
    assert completed.workflowStatus == h.COMPLETED
    assert completed.result.value == '"done"'
    assert after.history[-1] == outcome.appended[0]


def test_failure_details_are_kept_on_the_instance_and_the_completed_event() -> None:
    failure = pb.TaskFailureDetails(errorType="ValueError", errorMessage="bad input")

    outcome = apply_turn(
        running(), [], response(complete(h.FAILED, None, failure)), NOW, next_execution
    )

    assert outcome.instance.status == h.FAILED
    assert outcome.instance.failure == failure
    assert outcome.appended[-1].executionCompleted.failureDetails == failure


def test_actions_sent_with_the_completion_are_recorded_but_not_started() -> None:
    outcome = apply_turn(
        running(), [], response(schedule(0), timer(1, LATER), complete()), NOW, next_execution
    )

    assert kinds(outcome.appended) == ["taskScheduled", "timerCreated", "executionCompleted"]
    assert outcome.activities == []
    assert outcome.timers == []


def test_continue_as_new_resets_history_and_starts_a_new_execution() -> None:
    carried = h.event_raised(NOW, "item", '"a"')
    instance = running(output="stale", custom_status="s")
    action = complete(h.CONTINUED_AS_NEW, '"next"', carryover=[carried])

    outcome = apply_turn(
        instance, [], response(schedule(0), timer(1, LATER), action), LATER, next_execution
    )

    after = outcome.instance
    assert outcome.history_reset
    assert not outcome.completed
    assert after.status == h.RUNNING
    assert (after.execution_id, after.input, after.output) == ("exec-2", '"next"', None)
    assert after.history == []
    assert outcome.appended == []
    assert outcome.activities == []
    assert outcome.timers == []
    started, carried_over = outcome.next_inbox
    assert started.executionStarted.input.value == '"next"'
    assert started.executionStarted.workflowInstance.executionId.value == "exec-2"
    assert carried_over == carried


def test_a_finished_child_reports_its_result_to_the_parent_execution() -> None:
    outcome = apply_turn(running(parent=PARENT), [], response(complete()), NOW, next_execution)

    [message] = outcome.messages
    assert message == Message(
        "parent-1",
        h.new_event(
            NOW,
            childWorkflowInstanceCompleted=pb.ChildWorkflowInstanceCompletedEvent(
                taskScheduledId=4, result=h.string_value('"done"')
            ),
        ),
        "parent-exec",
    )


def test_a_failed_child_reports_its_failure_details_to_the_parent() -> None:
    failure = pb.TaskFailureDetails(errorType="RuntimeError", errorMessage="child broke")

    outcome = apply_turn(
        running(parent=PARENT), [], response(complete(h.FAILED, None, failure)), NOW, next_execution
    )

    [message] = outcome.messages
    reported = message.event.childWorkflowInstanceFailed
    assert (message.instance_id, message.execution_id) == ("parent-1", "parent-exec")
    assert reported.taskScheduledId == 4
    assert reported.failureDetails == failure


def test_a_terminated_child_reports_a_termination_failure_to_the_parent() -> None:
    outcome = apply_turn(
        running(parent=PARENT), [], response(complete(h.TERMINATED, None)), NOW, next_execution
    )

    [message] = outcome.messages
    details = message.event.childWorkflowInstanceFailed.failureDetails
    assert details.errorType == "WorkflowTerminated"
    assert "wf-1" in details.errorMessage


def test_recursive_termination_terminates_only_children_still_running() -> None:
    instance = running()
    created = apply_turn(
        instance, [], response(child(0, "c-0"), child(1, "c-1")), NOW, next_execution
    )
    done = h.new_event(
        NOW,
        childWorkflowInstanceCompleted=pb.ChildWorkflowInstanceCompletedEvent(taskScheduledId=0),
    )
    terminate = h.execution_terminated(NOW, '"stop"', recurse=True)

    outcome = apply_turn(
        created.instance,
        [done, terminate],
        response(complete(h.TERMINATED, '"stop"')),
        NOW,
        next_execution,
    )

    assert outcome.instance.status == h.TERMINATED
    assert [m.instance_id for m in outcome.messages] == ["c-1"]
    assert outcome.messages[0].event.executionTerminated.recurse


def test_non_recursive_termination_leaves_children_alone() -> None:
    instance = running()
    created = apply_turn(instance, [], response(child(0, "c-0")), NOW, next_execution)
    terminate = h.execution_terminated(NOW, None, recurse=False)

    outcome = apply_turn(
        created.instance, [terminate], response(complete(h.TERMINATED, None)), NOW, next_execution
    )

    assert outcome.messages == []
