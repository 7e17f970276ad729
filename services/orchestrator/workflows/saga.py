"""`order_saga`: reserve -> (approval) -> charge -> ship -> commit; on a failure before the
shipment, what may have happened is compensated, newest first.

The steps are the topology's (`SAGA_STEPS`: command, replies, compensation), run in its
order; `PLANS` adds what the saga does with each: its custom status, the command's fields
taken from the order, the success reply's id it records, and whether the approval comes
first. `OrderSaga.run` is one loop over the two together (`STEPS`). Once the last step
succeeded (the shipment: the saga's pivot) nothing is compensated any more: the saga
completes (`SAGA_COMPLETIONS`, the commit of its reservation), each completion sent until
acknowledged (workflows/acknowledged.py), as compensations are.

Cancellation (`cancel_order`, raised by `POST /v1/orders/{id}/cancel`) is waited for beside
every reply and the approval: it compensates like a failure (the step in flight counts as
uncertain) and the saga ends `cancelled`. Its wait is one indefinite external-event wait,
whose optional timer the SDK tolerates missing from older histories: runs started before
it replay unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import dapr.ext.workflow as wf

from services.contracts.messages import (
    Command,
    InvalidMessage,
    OrderPlaced,
    OrderStatus,
    Outcome,
    Reply,
)
from services.contracts.names import (
    CompensationName,
    CompletionName,
    EventType,
    StepName,
    WorkflowName,
    approval_instance_id,
    command_id,
)
from services.contracts.topology import (
    COMMANDS,
    OUTCOME_EVENT_TYPES,
    SAGA_COMPLETIONS,
    SAGA_STEPS,
    Compensation,
    Completion,
    SagaStep,
    parse_reply,
)
from services.orchestrator.activities import ActivityName, command_input, status_input
from services.orchestrator.workflow_io import (
    CANCEL_ORDER_EVENT,
    ApprovalDecision,
    ApprovalRequest,
    ApprovalResult,
    CancelRequest,
    SagaConfig,
    SagaInput,
    SagaResult,
    SagaTimings,
    StepResult,
    Timing,
)
from services.orchestrator.workflows.acknowledged import until_acknowledged
from services.orchestrator.workflows.common import IO_RETRY, Flow, log_once, set_status


@dataclass(frozen=True)
class StepPlan:
    """How the saga runs one of the topology's steps."""

    status: str  # the custom status's `step` while it runs
    fields: Callable[[OrderPlaced], dict[str, Any]]  # the command's own fields
    records: Literal["reservation_id", "charge_id", "tracking_id"]  # from the success reply
    approval_first: bool = False  # an order that needs an approval gets it before this step


PLANS: Mapping[StepName, StepPlan] = {
    StepName.RESERVE: StepPlan("reserving", lambda order: {"items": order.items}, "reservation_id"),
    StepName.CHARGE: StepPlan(
        "charging",
        lambda order: {
            "customer_id": order.customer_id,
            "amount_cents": order.amount_cents,
            "currency": order.currency,
            "payment_token": order.payment_token,
        },
        "charge_id",
        approval_first=True,
    ),
    StepName.SHIP: StepPlan(
        "shipping",
        lambda order: {"address": order.shipping_address, "items": order.items},
        "tracking_id",
    ),
}

# The custom status's `step` while the saga waits for its approval, while it compensates,
# and while it completes (its order shipped: the commit of its reservation).
AWAITING_APPROVAL = "awaiting_approval"
COMPENSATING = "compensating"
COMPLETING = "completing"


def status_timeouts(config: SagaConfig) -> dict[str, float]:
    """How long a running saga waits, at most, in each custom-status `step` before one of its
    own timers moves it on: past that (plus slack), it is stuck (the `SagaStuck` alert)."""
    return {
        **{plan.status: config.step_timeout_seconds for plan in PLANS.values()},
        AWAITING_APPROVAL: config.approval_timeout_seconds,
        COMPENSATING: config.compensation_timeout_seconds,
        COMPLETING: config.compensation_timeout_seconds,
    }


# The table `OrderSaga.run` drives: each topology step with its plan, in the topology's
# order (a step without a plan stops the worker at start-up, not a saga halfway).
STEPS: tuple[tuple[SagaStep, StepPlan], ...] = tuple((s, PLANS[s.name]) for s in SAGA_STEPS)


@dataclass(frozen=True)
class StepOutcome:
    """How a step ended. `reply` is the success reply; `uncertain` means the step may have
    had an effect although no success was seen (timeout, or its command's send failed),
    so it is compensated along with the completed steps; `result` names the ending for
    the metrics."""

    reply: Reply | None
    reason: str | None = None
    uncertain: bool = False
    result: StepResult = "failure"

    @property
    def succeeded(self) -> bool:
        return self.reply is not None


class OrderSaga:
    """One execution of `order_saga`; rebuilt on every replay, so its state is history's."""

    def __init__(self, ctx: wf.DaprWorkflowContext, saga: SagaInput) -> None:
        self.ctx = ctx
        self.order = saga.order
        self.config = saga.config
        self.saga_id = ctx.instance_id
        # The success replies' ids, by `StepPlan.records`: they go into the result.
        self.recorded: dict[str, str] = {}
        self.approval: ApprovalDecision | None = None
        # What each step, compensation and the approval took, for the final activity's
        # metrics: measured on the workflow's clock, so a replay measures the same.
        self.timings = SagaTimings()
        # Set once a `cancel_order` event is seen: the saga then ends `cancelled`.
        self.cancelled_by: CancelRequest | None = None

    def run(self) -> Flow:
        self._log("saga started", amount_cents=self.order.amount_cents)
        self.cancel = self.ctx.wait_for_external_event(CANCEL_ORDER_EVENT)
        done: list[SagaStep] = []
        for step, plan in STEPS:
            if self.cancel_requested():
                return (yield from self.fail(step.name, self.cancelled(), done, None))
            if plan.approval_first and self.needs_approval():
                started = self.ctx.current_utc_datetime
                reason = yield from self.wait_for_approval()
                self._timed("approval", StepName.APPROVAL, self.approval or "failed", started)
                if reason is not None:
                    outcome = StepOutcome(None, reason)
                    return (yield from self.fail(StepName.APPROVAL, outcome, done, None))
            started = self.ctx.current_utc_datetime
            outcome = yield from self.step(step, plan)
            self._timed("steps", step.name, outcome.result, started)
            if not outcome.succeeded:
                return (yield from self.fail(step.name, outcome, done, step))
            self.recorded[plan.records] = getattr(outcome.reply, plan.records)
            done.append(step)
        unacknowledged = yield from self.complete()
        return (yield from self.finish("completed", unacknowledged=unacknowledged))

    def needs_approval(self) -> bool:
        return self.order.amount_cents > self.config.approval_threshold_cents

    # -- steps -------------------------------------------------------------------------

    def step(self, step: SagaStep, plan: StepPlan) -> Flow:
        """Sends the step's command and waits for its reply or the step timeout."""
        command = self.command(step.command, step.name, **plan.fields(self.order))
        set_status(self.ctx, step=plan.status, orderId=self.order.order_id)
        reply_event = self.ctx.wait_for_external_event(command.command_id)
        error = yield from self.send(step.command, command)
        if error is not None:
            return StepOutcome(
                None, f"{step.command} not sent: {error}", uncertain=True, result="not_sent"
            )
        timeout = self.config.step_timeout_seconds
        deadline = self.ctx.create_timer(timedelta(seconds=timeout))
        while True:
            winner = yield wf.when_any([reply_event, deadline, self.cancel])
            if winner is self.cancel:
                if self.cancel_requested():
                    return self.cancelled()
                continue
            if winner is deadline:
                self._log("step timed out", step=step.name, timeout_s=timeout)
                return StepOutcome(
                    None,
                    f"no reply to {step.command} within {timeout:g}s",
                    uncertain=True,
                    result="timeout",
                )
            reply_type, reply = self.parse_reply(reply_event.get_result(), command.command_id)
            if reply is not None:
                break
            reply_event = self.ctx.wait_for_external_event(command.command_id)
        self._log("step replied", step=step.name, reply=reply_type)
        if reply_type == step.success:
            return StepOutcome(reply, result="success")
        reason = getattr(reply, "reason", None) or "no reason given"
        return StepOutcome(None, f"{reply_type}: {reason}")

    def wait_for_approval(self) -> Flow:
        """Runs the approval child workflow; None when approved, else why not."""
        set_status(self.ctx, step=AWAITING_APPROVAL, orderId=self.order.order_id)
        request = ApprovalRequest(
            order_id=self.order.order_id,
            saga_id=self.saga_id,
            customer_id=self.order.customer_id,
            amount_cents=self.order.amount_cents,
            currency=self.order.currency,
            timeout_seconds=self.config.approval_timeout_seconds,
            reminder_seconds=self.config.approval_reminder_seconds,
        )
        child: Any = self.ctx.call_child_workflow(
            WorkflowName.APPROVAL,
            input=request.to_data(),
            instance_id=approval_instance_id(self.order.order_id),
        )
        while (yield wf.when_any([child, self.cancel])) is self.cancel:
            if self.cancel_requested():
                return self.cancelled().reason
        try:
            result = ApprovalResult.parse(child.get_result())
        except (wf.TaskFailedError, InvalidMessage) as error:
            self.approval = None
            return f"approval failed: {error}"
        self.approval = result.decision
        self._log("approval decided", decision=result.decision, approver=result.approver)
        if result.decision == "approved":
            return None
        if result.decision == "timed_out":
            return "approval timed out"
        by = f" by {result.approver}" if result.approver else ""
        because = f": {result.reason}" if result.reason else ""
        return f"approval rejected{by}{because}"

    # -- ending ------------------------------------------------------------------------

    def fail(
        self,
        failed_step: StepName,
        outcome: StepOutcome,
        done: list[SagaStep],
        current: SagaStep | None,
    ) -> Flow:
        """Compensates the completed steps (and an uncertain current one), newest first."""
        to_undo = list(done)
        if current is not None and outcome.uncertain:
            to_undo.append(current)
        reason = outcome.reason or "failed"
        ended: Outcome = "cancelled" if self.cancelled_by else "compensated"
        self._log("saga failed; compensating", failed_step=failed_step, reason=reason)
        if not to_undo:
            nothing_done: Outcome = "cancelled" if self.cancelled_by else "rejected"
            return (yield from self.finish(nothing_done, reason=reason, failed_step=failed_step))
        acknowledged: list[str] = []
        unacknowledged: list[str] = []
        for step in reversed(to_undo):
            started = self.ctx.current_utc_datetime
            ok = yield from self.compensate(step.compensation)
            result = "acknowledged" if ok else "failed"
            self._timed("compensations", step.compensation.name, result, started)
            (acknowledged if ok else unacknowledged).append(step.compensation.name)
        if unacknowledged:
            reason = f"{reason}; compensation not acknowledged: {', '.join(unacknowledged)}"
            return (
                yield from self.finish(
                    "compensation_failed",
                    reason=reason,
                    failed_step=failed_step,
                    compensations=acknowledged,
                    failed_compensations=unacknowledged,
                )
            )
        return (
            yield from self.finish(
                ended, reason=reason, failed_step=failed_step, compensations=acknowledged
            )
        )

    def compensate(self, compensation: Compensation) -> Flow:
        """Sends a compensation until acknowledged (`until_acknowledged`); True when it
        was."""
        return (yield from self.until_acknowledged(compensation, COMPENSATING, "compensation"))

    def complete(self) -> Flow:
        """Past the pivot (the order shipped) nothing is compensated any more: each
        completion (the commit of the reservation) is sent until acknowledged. The names of
        those never acknowledged; the order is completed all the same."""
        unacknowledged: list[str] = []
        for completion in SAGA_COMPLETIONS:
            started = self.ctx.current_utc_datetime
            ok = yield from self.until_acknowledged(completion, COMPLETING, "completion")
            self._timed("steps", completion.name, "success" if ok else "timeout", started)
            if not ok:
                unacknowledged.append(completion.name)
        return unacknowledged

    def until_acknowledged(self, action: Compensation | Completion, step: str, kind: str) -> Flow:
        """Sends `action`'s command, under its one command id, until its `ack` arrives:
        `compensationAttempts` sends, each waited for `compensationTimeoutSeconds`."""
        command = self.command(action.command, action.name)
        return (
            yield from until_acknowledged(
                self.ctx,
                command.command_id,
                action.ack,
                attempts=self.config.compensation_attempts,
                timeout_seconds=self.config.compensation_timeout_seconds,
                send=lambda: self.send(action.command, command),
                parse=lambda event: self.parse_reply(event, command.command_id),
                show_attempt=lambda attempt: set_status(
                    self.ctx,
                    step=step,
                    **{kind: action.name},
                    attempt=attempt,
                    orderId=self.order.order_id,
                ),
                log=lambda message, level=logging.INFO, **extra: self._log(
                    f"{kind} {message}", level, **{kind: action.name}, **extra
                ),
            )
        )

    def finish(
        self,
        outcome: Outcome,
        *,
        reason: str | None = None,
        failed_step: StepName | None = None,
        compensations: list[str] | None = None,
        failed_compensations: list[str] | None = None,
        unacknowledged: list[str] | None = None,
    ) -> Flow:
        """Publishes the saga's status event and returns its `SagaResult`. `unacknowledged`:
        completions that never were, said in the reason and the custom status."""
        if unacknowledged:
            reason = f"shipped; not acknowledged: {', '.join(unacknowledged)}"
        result = SagaResult(
            order_id=self.order.order_id,
            outcome=outcome,
            reason=reason,
            failed_step=failed_step,
            approval=self.approval,
            **self.recorded,
            compensations=compensations or [],
        )
        status = OrderStatus(
            order_id=self.order.order_id,
            saga_id=self.saga_id,
            outcome=outcome,
            reason=reason,
            failed_step=failed_step,
            tracking_id=self.recorded.get("tracking_id"),
            charge_id=self.recorded.get("charge_id"),
            amount_cents=self.order.amount_cents,
            compensations=compensations or [],
        )
        final: dict[str, Any] = {"step": outcome, "outcome": outcome, "orderId": result.order_id}
        if failed_step:
            final["failedStep"] = failed_step
        if failed_compensations:
            final["failedCompensations"] = failed_compensations
        if unacknowledged:
            final["unacknowledged"] = unacknowledged
        set_status(self.ctx, **final)
        yield self.ctx.call_activity(
            ActivityName.PUBLISH_ORDER_STATUS,
            input=status_input(
                OUTCOME_EVENT_TYPES[outcome], status.to_data(), self.timings.to_data()
            ),
            retry_policy=IO_RETRY,
        )
        self._log("saga finished", outcome=outcome, reason=reason)
        return result.to_data()

    # -- cancellation ------------------------------------------------------------------

    def cancel_requested(self) -> bool:
        """Whether `cancel_order` has arrived (a malformed one is logged and ignored)."""
        if self.cancelled_by is None and self.cancel.is_complete:
            try:
                self.cancelled_by = CancelRequest.parse(self.cancel.get_result() or {})
            except InvalidMessage as error:
                self._log("malformed cancel_order ignored", error=error.reason)
                self.cancel = self.ctx.wait_for_external_event(CANCEL_ORDER_EVENT)
        return self.cancelled_by is not None

    def cancelled(self) -> StepOutcome:
        """The outcome of the step a cancellation interrupts: its command may have had an
        effect, so it is compensated with the completed steps."""
        request = self.cancelled_by
        assert request is not None
        because = f": {request.reason}" if request.reason else ""
        self._log("saga cancelled", requested_by=request.requested_by)
        return StepOutcome(
            None,
            f"cancelled by {request.requested_by}{because}",
            uncertain=True,
            result="cancelled",
        )

    # -- helpers -----------------------------------------------------------------------

    def command(
        self,
        event_type: EventType,
        action: StepName | CompensationName | CompletionName,
        **fields: Any,
    ) -> Command:
        """The command of a step or compensation, under its deterministic command id."""
        return COMMANDS[event_type](
            saga_id=self.saga_id,
            command_id=command_id(self.saga_id, action),
            order_id=self.order.order_id,
            **fields,
        )

    def send(self, event_type: EventType, command: Command) -> Flow:
        """Publishes a command through the `send_command` activity; the error, or None."""
        try:
            yield self.ctx.call_activity(
                ActivityName.SEND_COMMAND,
                input=command_input(event_type, command.to_data()),
                retry_policy=IO_RETRY,
            )
        except wf.TaskFailedError as error:
            return str(error)
        return None

    def parse_reply(self, event: Any, expected_id: str) -> tuple[str, Reply | None]:
        """The reply inside a raised event (`reply_event(...)`); None when it is not one.

        The saga-replies subscription only raises valid replies, but the management API
        can raise any event: a malformed one is logged and ignored, never acted on.
        """
        try:
            reply_type = str(event["type"])
            reply = parse_reply(reply_type, event["reply"])
        except (InvalidMessage, KeyError, TypeError) as error:
            self._log("malformed reply event ignored", event=expected_id, error=str(error))
            return "", None
        if reply.command_id != expected_id or reply.saga_id != self.saga_id:
            self._log("reply for another command ignored", event=expected_id)
            return reply_type, None
        return reply_type, reply

    def _timed(
        self,
        kind: Literal["steps", "compensations", "approval"],
        name: str,
        result: str,
        started: datetime,
    ) -> None:
        """Records how long something took since `started`, by the workflow's clock."""
        seconds = max(0.0, (self.ctx.current_utc_datetime - started).total_seconds())
        timing = Timing(name=name, result=result, seconds=seconds)
        update: dict[str, Any] = (
            {"approval": timing}
            if kind == "approval"
            else {kind: [*getattr(self.timings, kind), timing]}
        )
        self.timings = self.timings.model_copy(update=update)

    def _log(self, message: str, level: int = logging.INFO, **extra: Any) -> None:
        log_once(self.ctx, message, self.saga_id, level, order_id=self.order.order_id, **extra)


def order_saga(ctx: wf.DaprWorkflowContext, data: dict[str, Any]) -> Flow:
    """reserve -> (approval) -> charge -> ship; compensates in reverse on failure."""
    return (yield from OrderSaga(ctx, SagaInput.parse(data)).run())
