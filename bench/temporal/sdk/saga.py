"""The orchestrator's workflow on Temporal: our saga's loop (`OrderSaga.run` in
`services/orchestrator/workflows/saga.py`) written the way a Temporal user writes it.

Each step is one activity on its service's task queue, where ours is a command published
and a reply awaited; the retry policy stands for our step timeout and redeliveries. A
business refusal is a reply (`Reply.ok` false), never an exception, so only the steps that
ran are compensated; a step whose activity never answered may have had its effect and is
compensated too. Runs in the SDK's default sandbox, as a user's workflow would.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from bench.temporal.shape import (
        COMPLETION,
        QUEUES,
        SAGA_WORKFLOW,
        STEPS,
        Command,
        Order,
        Reply,
        SagaResult,
        Step,
        command_id,
    )

# Ours: a step waits `step_timeout_seconds` for its reply (120 s in the bench), a
# compensation is sent until acknowledged, a few times.
STEP_TIMEOUT = timedelta(seconds=120)
ATTEMPT_TIMEOUT = timedelta(seconds=10)
STEP_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200))
ACKNOWLEDGE_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)


@workflow.defn(name=SAGA_WORKFLOW)
class OrderSaga:
    """reserve -> charge -> ship -> commit; on a failure before the shipment, compensates
    what may have happened, newest first."""

    @workflow.run
    async def run(self, order: Order) -> SagaResult:
        saga_id = workflow.info().workflow_id
        result = SagaResult(order_id=order.order_id, outcome="completed")
        done: list[Step] = []
        for step in STEPS:
            command = Command(command_id(saga_id, step.name), saga_id, order)
            try:
                reply = await self._send(step.service, step.activity, command, STEP_RETRY)
            except ActivityError as error:  # no answer: it may have happened
                return await self._fail(result, step, str(error), [*done, step], command)
            if not reply.ok:
                return await self._fail(result, step, reply.reason or "refused", done, command)
            setattr(result, step.records, reply.record_id)
            done.append(step)
        commit = Command(command_id(saga_id, COMPLETION.name), saga_id, order)
        if not await self._until_acknowledged(COMPLETION.service, COMPLETION.activity, commit):
            result.reason = f"shipped; not acknowledged: {COMPLETION.name}"
        return result

    async def _fail(
        self, result: SagaResult, failed: Step, reason: str, to_undo: list[Step], sent: Command
    ) -> SagaResult:
        result.failed_step, result.reason = failed.name, reason
        if not to_undo:
            result.outcome = "rejected"
            return result
        unacknowledged: list[str] = []
        for step in reversed(to_undo):
            command = Command(command_id(sent.saga_id, step.compensation), sent.saga_id, sent.order)
            ok = await self._until_acknowledged(step.service, step.compensation, command)
            (result.compensations if ok else unacknowledged).append(step.compensation)
        result.outcome = "compensation_failed" if unacknowledged else "compensated"
        if unacknowledged:
            result.reason = f"{reason}; compensation not acknowledged: {', '.join(unacknowledged)}"
        return result

    async def _until_acknowledged(self, service: str, activity: str, command: Command) -> bool:
        try:
            reply = await self._send(service, activity, command, ACKNOWLEDGE_RETRY)
        except ActivityError:
            return False
        return reply.ok

    async def _send(
        self, service: str, activity: str, command: Command, retry: RetryPolicy
    ) -> Reply:
        # By name (the activity runs in another process): the SDK types the result `Any`.
        reply: Reply = await workflow.execute_activity(
            activity,
            command,
            task_queue=QUEUES[service],
            result_type=Reply,
            schedule_to_close_timeout=STEP_TIMEOUT,
            start_to_close_timeout=ATTEMPT_TIMEOUT,
            retry_policy=retry,
        )
        return reply
