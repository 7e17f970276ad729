"""Workflow semantics of the embedded engine, observed only through the Dapr SDK over gRPC.

Where the SDK has no call (purge with a filter), the raw `TaskHubSidecarService` stub is used.
Activities that must hold a workflow at a known point block on a `threading.Event` the test
releases, so no test depends on how fast anything runs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta
from typing import Any

import dapr.ext.workflow as wf
import dapr.ext.workflow.aio as wf_aio
from google.protobuf import timestamp_pb2

from sidecar.workflow.protos import pb
from testkit.polling import wait_until
from testkit.sidecar import SidecarProcess, stub_for
from tests.sidecar.outcomes import WAIT, finished, output_of

Kind = wf.WorkflowHistoryEventType


def status_of(client: wf.DaprWorkflowClient, instance_id: str) -> wf.WorkflowStatus | None:
    state = client.get_workflow_state(instance_id)
    return None if state is None else state.runtime_status


def kinds(client: wf.DaprWorkflowClient, instance_id: str) -> list[Kind]:
    return [e.event_type for e in client.get_workflow_history(instance_id)]


def on_hold(gate: threading.Event) -> None:
    assert gate.wait(WAIT), "the test never released the activity"


# -- activities ---------------------------------------------------------------------------


def test_activity_result_reaches_the_workflow_unchanged(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    payload = {"id": 7, "tags": ["a", "é"], "nested": {"ok": True, "none": None}, "n": 1.5}

    @runtime.activity(name="produce")
    def produce(ctx: wf.WorkflowActivityContext, _: None) -> dict[str, Any]:
        return payload

    @runtime.workflow(name="consume")
    def consume(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, dict[str, Any]]:
        value = yield ctx.call_activity(produce)
        return {"received": value, "type": type(value).__name__}

    runtime.start()
    instance_id = client.schedule_new_workflow(consume)

    assert output_of(finished(client, instance_id)) == {"received": payload, "type": "dict"}


def test_activity_failure_message_and_type_are_visible_to_the_workflow(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.activity(name="charge")
    def charge(ctx: wf.WorkflowActivityContext, card: str) -> str:
        raise ValueError(f"card {card} declined")

    @runtime.workflow(name="try_charge")
    def try_charge(ctx: wf.DaprWorkflowContext, card: str) -> Generator[Any, Any, dict[str, Any]]:
        try:
            yield ctx.call_activity(charge, input=card)
        except wf.TaskFailedError as error:
            return {"message": error.details.message, "type": error.details.error_type}
        return {}

    runtime.start()
    instance_id = client.schedule_new_workflow(try_charge, input="4242")

    result = output_of(finished(client, instance_id))
    assert result["message"] == "card 4242 declined"
    assert result["type"] == "ValueError"


def test_unhandled_activity_failure_fails_the_workflow_with_failure_details(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.activity(name="charge")
    def charge(ctx: wf.WorkflowActivityContext, card: str) -> str:
        raise ValueError(f"card {card} declined")

    @runtime.workflow(name="must_charge")
    def must_charge(ctx: wf.DaprWorkflowContext, card: str) -> Generator[Any, Any, str]:
        receipt: str = yield ctx.call_activity(charge, input=card)
        return receipt

    runtime.start()
    instance_id = client.schedule_new_workflow(must_charge, input="4000")

    state = finished(client, instance_id)
    assert state.runtime_status == wf.WorkflowStatus.FAILED
    assert state.failure_details is not None
    assert "card 4000 declined" in state.failure_details.message
    assert state.failure_details.error_type == "TaskFailedError"
    history = client.get_workflow_history(instance_id)
    failed = [e for e in history if e.event_type == Kind.TASK_FAILED]
    assert len(failed) == 1
    assert failed[0].failure_details is not None
    assert failed[0].failure_details.error_type == "ValueError"
    assert failed[0].failure_details.message == "card 4000 declined"


# -- timers and events --------------------------------------------------------------------


def test_durable_timer_fires_after_its_delay(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    delay = timedelta(seconds=1)

    @runtime.workflow(name="sleeper")
    def sleeper(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, dict[str, str]]:
        before = ctx.current_utc_datetime
        yield ctx.create_timer(delay)
        return {"before": before.isoformat(), "after": ctx.current_utc_datetime.isoformat()}

    runtime.start()
    started = time.monotonic()
    instance_id = client.schedule_new_workflow(sleeper)
    result = output_of(finished(client, instance_id))
    elapsed = time.monotonic() - started

    slept = datetime.fromisoformat(result["after"]) - datetime.fromisoformat(result["before"])
    assert slept >= delay
    assert delay.total_seconds() <= elapsed < delay.total_seconds() + 10
    assert Kind.TIMER_FIRED in kinds(client, instance_id)


def test_event_raised_before_wait_is_delivered(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    entered, gate = threading.Event(), threading.Event()

    @runtime.activity(name="busy")
    def busy(ctx: wf.WorkflowActivityContext, _: None) -> None:
        entered.set()
        on_hold(gate)

    @runtime.workflow(name="late_listener")
    def late_listener(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, Any]:
        yield ctx.call_activity(busy)
        return (yield ctx.wait_for_external_event("ping"))

    runtime.start()
    instance_id = client.schedule_new_workflow(late_listener)
    try:
        assert entered.wait(WAIT)
        client.raise_workflow_event(instance_id, "ping", data={"early": True})
        # The event is committed to the instance before the workflow asks for it.
        wait_until(
            lambda: Kind.EVENT_RAISED in kinds(client, instance_id), WAIT, what="event recorded"
        )
    finally:
        gate.set()

    assert output_of(finished(client, instance_id)) == {"early": True}


def test_events_raised_while_suspended_are_delivered_in_order_after_resume(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.workflow(name="collector")
    def collector(ctx: wf.DaprWorkflowContext, count: int) -> Generator[Any, Any, list[Any]]:
        seen: list[Any] = []
        for _ in range(count):
            seen.append((yield ctx.wait_for_external_event("item")))
            ctx.set_custom_status(f"seen {len(seen)}")
        return seen

    runtime.start()
    instance_id = client.schedule_new_workflow(collector, input=3)
    client.wait_for_workflow_start(instance_id, timeout_in_seconds=WAIT)

    client.pause_workflow(instance_id)
    wait_until(
        lambda: status_of(client, instance_id) == wf.WorkflowStatus.SUSPENDED, WAIT, what="pause"
    )
    for n in (1, 2, 3):
        client.raise_workflow_event(instance_id, "item", data=n)
    wait_until(
        lambda: kinds(client, instance_id).count(Kind.EVENT_RAISED) == 3, WAIT, what="events"
    )
    # Recorded, but not acted on: the workflow is still suspended where it was.
    state = client.get_workflow_state(instance_id)
    assert state is not None
    assert state.runtime_status == wf.WorkflowStatus.SUSPENDED
    assert state.serialized_custom_status is None

    client.resume_workflow(instance_id)

    state = finished(client, instance_id)
    assert output_of(state) == [1, 2, 3]
    assert state.serialized_custom_status == "seen 3"


def test_when_any_completes_with_the_first_task_without_waiting_for_the_others(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    gate = threading.Event()

    @runtime.activity(name="slow")
    def slow(ctx: wf.WorkflowActivityContext, _: None) -> str:
        on_hold(gate)
        return "slow"

    @runtime.workflow(name="first_wins")
    def first_wins(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, dict[str, Any]]:
        work = ctx.call_activity(slow)
        cancel = ctx.wait_for_external_event("cancel")
        winner = yield wf.when_any([work, cancel])
        return {"winner": "cancel" if winner == cancel else "work", "value": winner.get_result()}

    runtime.start()
    instance_id = client.schedule_new_workflow(first_wins)
    try:
        client.wait_for_workflow_start(instance_id, timeout_in_seconds=WAIT)
        client.raise_workflow_event(instance_id, "cancel", data="stop")
        result = output_of(finished(client, instance_id))
    finally:
        gate.set()

    assert result == {"winner": "cancel", "value": "stop"}


# -- child workflows ----------------------------------------------------------------------


def test_child_workflow_failure_raises_in_the_parent(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.workflow(name="broken_child")
    def broken_child(ctx: wf.DaprWorkflowContext, _: None) -> None:
        raise RuntimeError("child exploded")

    @runtime.workflow(name="careful_parent")
    def careful_parent(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, dict[str, str]]:
        try:
            yield ctx.call_child_workflow(broken_child, instance_id=f"{ctx.instance_id}-child")
        except wf.TaskFailedError as error:
            return {"caught": error.details.message}
        return {}

    runtime.start()
    instance_id = client.schedule_new_workflow(careful_parent)

    assert "child exploded" in output_of(finished(client, instance_id))["caught"]
    child = finished(client, f"{instance_id}-child")
    assert child.runtime_status == wf.WorkflowStatus.FAILED


def _parent_with_waiting_child(runtime: wf.WorkflowRuntime) -> None:
    @runtime.workflow(name="waiting_child")
    def waiting_child(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, Any]:
        return (yield ctx.wait_for_external_event("go"))

    @runtime.workflow(name="waiting_parent")
    def waiting_parent(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, Any]:
        return (yield ctx.call_child_workflow(waiting_child, instance_id=f"{ctx.instance_id}-c"))


def test_recursive_terminate_terminates_children(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    _parent_with_waiting_child(runtime)
    runtime.start()
    instance_id = client.schedule_new_workflow("waiting_parent")
    child_id = f"{instance_id}-c"
    wait_until(lambda: status_of(client, child_id) == wf.WorkflowStatus.RUNNING, WAIT, what="child")

    client.terminate_workflow(instance_id, output="stopped", recursive=True)

    assert finished(client, instance_id).runtime_status == wf.WorkflowStatus.TERMINATED
    assert finished(client, child_id).runtime_status == wf.WorkflowStatus.TERMINATED


def test_an_activity_running_when_its_workflow_is_terminated_is_not_run_again(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    """A terminated run's in-flight activity finishes on its worker and its result is
    dropped; it is never handed out a second time."""
    runtime = make_runtime()
    gate = threading.Event()
    starts: list[str] = []

    @runtime.activity(name="slow_effect")
    def slow_effect(ctx: wf.WorkflowActivityContext, _: None) -> None:
        starts.append(ctx.workflow_id)
        on_hold(gate)

    @runtime.activity(name="quick")
    def quick(ctx: wf.WorkflowActivityContext, _: None) -> str:
        return "done"

    @runtime.workflow(name="effectful")
    def effectful(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, None]:
        yield ctx.call_activity(slow_effect)

    @runtime.workflow(name="barrier")
    def barrier(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, Any]:
        return (yield ctx.call_activity(quick))

    runtime.start()
    instance_id = client.schedule_new_workflow(effectful)
    wait_until(lambda: starts == [instance_id], WAIT, what="the activity's first start")

    client.terminate_workflow(instance_id)
    assert finished(client, instance_id).runtime_status == wf.WorkflowStatus.TERMINATED
    # Work items go out in order: an activity handed out again after the terminate would
    # have reached the worker before this later run's activity.
    assert output_of(finished(client, client.schedule_new_workflow(barrier))) == "done"
    gate.set()

    assert starts == [instance_id]


def test_recursive_purge_removes_children(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    _parent_with_waiting_child(runtime)
    runtime.start()
    instance_id = client.schedule_new_workflow("waiting_parent")
    child_id = f"{instance_id}-c"
    wait_until(lambda: status_of(client, child_id) == wf.WorkflowStatus.RUNNING, WAIT, what="child")
    client.raise_workflow_event(child_id, "go", data="done")
    assert output_of(finished(client, instance_id)) == "done"

    client.purge_workflow(instance_id, recursive=True)

    assert client.get_workflow_state(instance_id) is None
    assert client.get_workflow_state(child_id) is None


# -- continue-as-new, custom status, retries ----------------------------------------------


def test_continue_as_new_starts_a_fresh_history_and_carries_over_saved_events(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    entered, gate = threading.Event(), threading.Event()

    @runtime.activity(name="prepare")
    def prepare(ctx: wf.WorkflowActivityContext, _: None) -> None:
        entered.set()
        on_hold(gate)

    @runtime.workflow(name="rounds")
    def rounds(ctx: wf.DaprWorkflowContext, round_no: int) -> Generator[Any, Any, Any]:
        if round_no == 0:
            # The items arrive while this execution is busy and never waits for them.
            yield ctx.call_activity(prepare)
            ctx.continue_as_new(1, save_events=True)
            return None
        first = yield ctx.wait_for_external_event("item")
        second = yield ctx.wait_for_external_event("item")
        return {"round": round_no, "items": [first, second]}

    runtime.start()
    instance_id = client.schedule_new_workflow(rounds, input=0)
    try:
        assert entered.wait(WAIT)
        client.raise_workflow_event(instance_id, "item", data="a")
        client.raise_workflow_event(instance_id, "item", data="b")
        wait_until(
            lambda: kinds(client, instance_id).count(Kind.EVENT_RAISED) == 2, WAIT, what="items"
        )
    finally:
        gate.set()

    assert output_of(finished(client, instance_id)) == {"round": 1, "items": ["a", "b"]}
    history = kinds(client, instance_id)
    assert history.count(Kind.EXECUTION_STARTED) == 1
    assert Kind.TASK_SCHEDULED not in history  # round 0's activity is gone with its history
    state = client.get_workflow_state(instance_id)
    assert state is not None
    assert json.loads(state.serialized_input) == 1


def test_custom_status_is_visible_via_get_workflow_state(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.workflow(name="reporter")
    def reporter(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, str]:
        ctx.set_custom_status(json.dumps({"stage": "awaiting approval"}))
        yield ctx.wait_for_external_event("approve")
        ctx.set_custom_status(json.dumps({"stage": "approved"}))
        return "ok"

    runtime.start()
    instance_id = client.schedule_new_workflow(reporter)

    def custom_status() -> Any:
        state = client.get_workflow_state(instance_id)
        raw = None if state is None else state.serialized_custom_status
        return None if raw is None else json.loads(raw)

    assert wait_until(custom_status, WAIT, what="custom status") == {"stage": "awaiting approval"}
    client.raise_workflow_event(instance_id, "approve")
    assert output_of(finished(client, instance_id)) == "ok"
    assert custom_status() == {"stage": "approved"}


def test_retry_policy_retries_a_failing_activity_until_it_succeeds(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    attempts: list[int] = []
    policy = wf.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=5
    )

    @runtime.activity(name="flaky")
    def flaky(ctx: wf.WorkflowActivityContext, _: None) -> int:
        attempts.append(len(attempts) + 1)
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return len(attempts)

    @runtime.workflow(name="persistent")
    def persistent(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, int]:
        attempt: int = yield ctx.call_activity(flaky, retry_policy=policy)
        return attempt

    runtime.start()
    instance_id = client.schedule_new_workflow(persistent)

    assert output_of(finished(client, instance_id)) == 3
    assert attempts == [1, 2, 3]


def test_retry_policy_gives_up_after_max_attempts(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()
    attempts: list[int] = []
    policy = wf.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=3
    )

    @runtime.activity(name="always_fails")
    def always_fails(ctx: wf.WorkflowActivityContext, _: None) -> None:
        attempts.append(len(attempts) + 1)
        raise ConnectionError(f"attempt {len(attempts)} failed")

    @runtime.workflow(name="doomed")
    def doomed(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, None]:
        yield ctx.call_activity(always_fails, retry_policy=policy)

    runtime.start()
    instance_id = client.schedule_new_workflow(doomed)

    state = finished(client, instance_id)
    assert state.runtime_status == wf.WorkflowStatus.FAILED
    assert state.failure_details is not None
    assert "attempt 3 failed" in state.failure_details.message
    assert attempts == [1, 2, 3]


# -- instance lifecycle -------------------------------------------------------------------


def test_scheduled_start_keeps_the_instance_pending_until_start_at(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.workflow(name="punctual")
    def punctual(ctx: wf.DaprWorkflowContext, _: None) -> str:
        return ctx.current_utc_datetime.isoformat()

    runtime.start()
    start_at = datetime.now(UTC) + timedelta(seconds=1.5)
    instance_id = client.schedule_new_workflow(punctual, start_at=start_at)

    assert status_of(client, instance_id) == wf.WorkflowStatus.PENDING
    client.raise_workflow_event(instance_id, "early")  # waits for the start, too
    assert status_of(client, instance_id) == wf.WorkflowStatus.PENDING

    ran_at = datetime.fromisoformat(output_of(finished(client, instance_id)))
    assert ran_at.replace(tzinfo=UTC) >= start_at - timedelta(milliseconds=5)


def test_instance_id_is_reusable_once_the_instance_is_terminal(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.workflow(name="echo")
    def echo(ctx: wf.DaprWorkflowContext, value: str) -> str:
        return value

    @runtime.workflow(name="idle")
    def idle(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, Any]:
        return (yield ctx.wait_for_external_event("never"))

    runtime.start()
    client.schedule_new_workflow(echo, input="first", instance_id="order-1")
    assert output_of(finished(client, "order-1")) == "first"

    client.schedule_new_workflow(echo, input="second", instance_id="order-1")
    assert output_of(finished(client, "order-1")) == "second"

    # A terminated instance frees its id as well, even for another workflow.
    client.schedule_new_workflow(idle, instance_id="order-2")
    client.wait_for_workflow_start("order-2", timeout_in_seconds=WAIT)
    client.terminate_workflow("order-2")
    assert finished(client, "order-2").runtime_status == wf.WorkflowStatus.TERMINATED
    client.schedule_new_workflow(echo, input="third", instance_id="order-2")
    assert output_of(finished(client, "order-2")) == "third"
    assert kinds(client, "order-2").count(Kind.EXECUTION_STARTED) == 1


def test_list_instance_ids_pages_with_page_size_and_continuation_token(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.workflow(name="noop")
    def noop(ctx: wf.DaprWorkflowContext, _: None) -> None:
        return None

    runtime.start()
    ids = [client.schedule_new_workflow(noop, instance_id=f"list-{n}") for n in range(5)]

    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page = client.list_workflow_instance_ids(page_size=2, continuation_token=token)
        pages.append(page.instance_ids)
        token = page.continuation_token
        if token is None:
            break
        assert len(pages) < 10, "paging never ends"

    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(i for p in pages for i in p) == sorted(ids)
    assert sorted(client.iter_workflow_instance_ids(page_size=3)) == sorted(ids)


def test_workflow_history_lists_the_events_of_a_run_in_order(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    runtime = make_runtime()

    @runtime.activity(name="greet")
    def greet(ctx: wf.WorkflowActivityContext, name: str) -> str:
        return f"hello {name}"

    @runtime.workflow(name="greeter")
    def greeter(ctx: wf.DaprWorkflowContext, name: str) -> Generator[Any, Any, str]:
        greeting: str = yield ctx.call_activity(greet, input=name)
        return greeting

    runtime.start()
    instance_id = client.schedule_new_workflow(greeter, input="ada")
    assert output_of(finished(client, instance_id)) == "hello ada"

    history = client.get_workflow_history(instance_id)
    by_kind = {e.event_type: e for e in history}
    order = [e.event_type for e in history]
    expected = [Kind.EXECUTION_STARTED, Kind.TASK_SCHEDULED, Kind.TASK_COMPLETED]
    assert [k for k in order if k in expected] == expected
    assert order[-1] == Kind.EXECUTION_COMPLETED
    assert by_kind[Kind.EXECUTION_STARTED].name == "greeter"
    assert by_kind[Kind.TASK_SCHEDULED].name == "greet"
    assert by_kind[Kind.TASK_SCHEDULED].is_rerunnable
    assert by_kind[Kind.TASK_COMPLETED].task_scheduled_id == by_kind[Kind.TASK_SCHEDULED].event_id


def test_purge_with_a_filter_removes_only_terminal_instances_created_before_the_cutoff(
    make_runtime: Callable[..., wf.WorkflowRuntime],
    client: wf.DaprWorkflowClient,
    sidecar: SidecarProcess,
) -> None:
    runtime = make_runtime()

    @runtime.workflow(name="noop")
    def noop(ctx: wf.DaprWorkflowContext, _: None) -> None:
        return None

    @runtime.workflow(name="idle")
    def idle(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, Any]:
        return (yield ctx.wait_for_external_event("never"))

    runtime.start()
    running = client.schedule_new_workflow(idle, instance_id="old-running")
    old = [client.schedule_new_workflow(noop, instance_id=f"old-{n}") for n in range(2)]
    for instance_id in old:
        finished(client, instance_id)
    client.wait_for_workflow_start(running, timeout_in_seconds=WAIT)
    cutoff = datetime.now(UTC)
    wait_until(lambda: datetime.now(UTC) > cutoff, 5)
    new = client.schedule_new_workflow(noop, instance_id="new-done")
    finished(client, new)

    created_to = timestamp_pb2.Timestamp()
    created_to.FromDatetime(cutoff)
    response = stub_for(sidecar.address).PurgeInstances(
        pb.PurgeInstancesRequest(
            purgeInstanceFilter=pb.PurgeInstanceFilter(createdTimeTo=created_to)
        ),
        timeout=WAIT,
    )

    assert response.deletedInstanceCount == 2
    assert all(client.get_workflow_state(i) is None for i in old)
    assert status_of(client, running) == wf.WorkflowStatus.RUNNING
    assert status_of(client, new) == wf.WorkflowStatus.COMPLETED


def test_purge_with_a_status_filter_purges_only_terminal_instances_in_those_statuses(
    make_runtime: Callable[..., wf.WorkflowRuntime],
    client: wf.DaprWorkflowClient,
    sidecar: SidecarProcess,
) -> None:
    runtime = make_runtime()

    @runtime.workflow(name="outcome")
    def outcome(ctx: wf.DaprWorkflowContext, fail: bool) -> Generator[Any, Any, str]:
        if fail:
            raise RuntimeError("failed on purpose")
        if (yield ctx.wait_for_external_event("finish")) != "now":
            return "?"
        return "ok"

    runtime.start()
    client.schedule_new_workflow(outcome, input=True, instance_id="failed")
    client.schedule_new_workflow(outcome, input=False, instance_id="completed")
    client.schedule_new_workflow(outcome, input=False, instance_id="running")
    client.raise_workflow_event("completed", "finish", data="now")
    assert finished(client, "failed").runtime_status == wf.WorkflowStatus.FAILED
    assert output_of(finished(client, "completed")) == "ok"
    client.wait_for_workflow_start("running", timeout_in_seconds=WAIT)
    stub = stub_for(sidecar.address)

    def purge(*statuses: pb.OrchestrationStatus.ValueType) -> int:
        request = pb.PurgeInstancesRequest(
            purgeInstanceFilter=pb.PurgeInstanceFilter(runtimeStatus=statuses)
        )
        return int(stub.PurgeInstances(request, timeout=WAIT).deletedInstanceCount)

    # Naming only a non-terminal status matches nothing that may be purged.
    assert purge(pb.ORCHESTRATION_STATUS_RUNNING) == 0
    assert purge(pb.ORCHESTRATION_STATUS_FAILED) == 1

    assert client.get_workflow_state("failed") is None
    assert status_of(client, "completed") == wf.WorkflowStatus.COMPLETED
    assert status_of(client, "running") == wf.WorkflowStatus.RUNNING


def _finished_three_steps(
    runtime: wf.WorkflowRuntime, client: wf.DaprWorkflowClient
) -> tuple[str, list[wf.WorkflowHistoryEvent], list[str]]:
    """A finished run of three chained steps ("s" gives S0, S1, S2): its id, its
    taskScheduled events, and the list where the step records each call from now on."""
    calls: list[str] = []

    @runtime.activity(name="step")
    def step(ctx: wf.WorkflowActivityContext, label: str) -> str:
        calls.append(label)
        return label.upper()

    @runtime.workflow(name="three_steps")
    def three_steps(ctx: wf.DaprWorkflowContext, prefix: str) -> Generator[Any, Any, list[str]]:
        results = []
        for n in range(3):
            results.append((yield ctx.call_activity(step, input=f"{prefix}{n}")))
        return results

    runtime.start()
    source = client.schedule_new_workflow(three_steps, input="s")
    assert output_of(finished(client, source)) == ["S0", "S1", "S2"]
    scheduled = [
        e for e in client.get_workflow_history(source) if e.event_type == Kind.TASK_SCHEDULED
    ]
    calls.clear()
    return source, scheduled, calls


def test_rerun_from_a_scheduled_activity_runs_a_new_instance_from_that_point(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    source, scheduled, calls = _finished_three_steps(make_runtime(), client)

    rerun = client.rerun_workflow_from_event(
        source, scheduled[1].event_id, new_instance_id=f"{source}-rerun"
    )

    assert rerun == f"{source}-rerun"
    assert output_of(finished(client, rerun)) == ["S0", "S1", "S2"]
    assert calls == ["s1", "s2"]  # the first step is replayed from history, not run again
    assert output_of(finished(client, source)) == ["S0", "S1", "S2"]  # the source is untouched


def test_rerun_with_a_new_input_gives_it_to_the_rerun_activity_only(
    make_runtime: Callable[..., wf.WorkflowRuntime], client: wf.DaprWorkflowClient
) -> None:
    source, scheduled, calls = _finished_three_steps(make_runtime(), client)

    rerun = client.rerun_workflow_from_event(source, scheduled[1].event_id, input="fixed")

    assert output_of(finished(client, rerun)) == ["S0", "FIXED", "S2"]
    assert calls == ["fixed", "s2"]
    # The workflow's own input is the source's: only the rerun activity gets the new one.
    state = client.get_workflow_state(rerun)
    assert state is not None
    assert json.loads(state.serialized_input) == "s"


async def test_async_client_schedules_waits_and_raises_events(
    make_runtime: Callable[..., wf.WorkflowRuntime], sidecar: SidecarProcess
) -> None:
    runtime = make_runtime()

    @runtime.workflow(name="doorbell")
    def doorbell(ctx: wf.DaprWorkflowContext, who: str) -> Generator[Any, Any, str]:
        answer = yield ctx.wait_for_external_event("answer")
        return f"{who}: {answer}"

    runtime.start()
    aio_client = wf_aio.DaprWorkflowClient(host="127.0.0.1", port=str(sidecar.grpc_port))
    try:
        instance_id = await aio_client.schedule_new_workflow(doorbell, input="courier")
        started = await aio_client.wait_for_workflow_start(instance_id, timeout_in_seconds=WAIT)
        assert started is not None
        assert started.runtime_status == wf.WorkflowStatus.RUNNING
        await aio_client.raise_workflow_event(instance_id, "answer", data="come in")
        state = await aio_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=WAIT)
        fetched = await aio_client.get_workflow_state(instance_id)
    finally:
        # The async client has no close of its own; its durabletask client holds the channel.
        await vars(aio_client)["_DaprWorkflowClient__obj"].aclose()

    assert state is not None
    assert output_of(state) == "courier: come in"
    assert fetched is not None
    assert fetched.runtime_status == wf.WorkflowStatus.COMPLETED
