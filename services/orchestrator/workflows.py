"""The orchestrator's workflows: the order saga, its approval, a batch of sagas, and the
stock monitor. Pure orchestration: every side effect is an activity (`activities.py`).

Determinism rules, which every function here keeps because the SDK replays it from its
history after each event and after any restart:

- time only from `ctx.current_utc_datetime`; timers via `ctx.create_timer`;
- no environment, randomness or I/O: configuration arrives in the input (`SagaConfig`);
- ids derived from the instance id: a step's command id is `<sagaId>:<step>`, and a
  compensation's is `<sagaId>:<compensation>`, the same on every retry of it, so the
  services can recognise a resend and the reply finds the waiting workflow by that name;
- logging only when `not ctx.is_replaying`, so each line is written once.

Inputs and outputs are the contracts' JSON form (camelCase dicts, `to_data()`), parsed on
entry, so what the API shows and what a workflow reads are the same document.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import dapr.ext.workflow as wf

from services.contracts.models import (
    ApprovalDecided,
    ApprovalRequested,
    CancelShipment,
    ChargePayment,
    Command,
    CreateShipment,
    InvalidMessage,
    InventoryReserved,
    OrderStatus,
    Outcome,
    PaymentCharged,
    RefundPayment,
    ReleaseInventory,
    Reply,
    ReserveInventory,
    ShipmentCreated,
    StockLevel,
    parse_reply,
)
from services.contracts.names import (
    APPROVAL_DECISION_EVENT,
    EventType,
    WorkflowName,
    approval_instance_id,
    saga_instance_id,
)
from services.orchestrator.activities import ActivityName, command_input, status_input
from services.orchestrator.models import (
    ApprovalRequest,
    ApprovalResult,
    BatchInput,
    BatchResult,
    SagaInput,
    SagaResult,
    StockMonitorInput,
)

log = logging.getLogger("services.orchestrator.workflows")

# Workflow generators yield SDK tasks and get their results back.
Flow = Generator[Any, Any, Any]

# Activities do I/O against the sidecar: retried with backoff before a workflow treats the
# call as failed (about 1 + 2 + 4 + 8 + 10 s).
IO_RETRY = wf.RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    max_number_of_attempts=5,
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(seconds=10),
)


def command_id(saga_id: str, action: str) -> str:
    """The deterministic command id (and reply event name) of one saga step or compensation."""
    return f"{saga_id}:{action}"


def set_status(ctx: wf.DaprWorkflowContext, **fields: Any) -> None:
    """Custom status as a JSON object (camelCase keys), shown by the API and the CLI."""
    ctx.set_custom_status(json.dumps(fields, sort_keys=True))


def _log(ctx: wf.DaprWorkflowContext, message: str, saga_id: str, **extra: Any) -> None:
    if not ctx.is_replaying:
        log.info(message, extra={"saga_id": saga_id, "instance_id": ctx.instance_id, **extra})


# --- order saga -----------------------------------------------------------------------


@dataclass(frozen=True)
class Compensation:
    """The undo of a step: a command that is a no-op when the step left nothing behind."""

    name: str
    command_type: EventType
    ack_type: EventType
    model: type[Command]


@dataclass(frozen=True)
class Step:
    name: str
    status: str
    command_type: EventType
    success_type: EventType
    compensation: Compensation


RESERVE = Step(
    "reserve",
    "reserving",
    EventType.INVENTORY_RESERVE,
    EventType.INVENTORY_RESERVED,
    Compensation(
        "release", EventType.INVENTORY_RELEASE, EventType.INVENTORY_RELEASED, ReleaseInventory
    ),
)
CHARGE = Step(
    "charge",
    "charging",
    EventType.PAYMENT_CHARGE,
    EventType.PAYMENT_CHARGED,
    Compensation("refund", EventType.PAYMENT_REFUND, EventType.PAYMENT_REFUNDED, RefundPayment),
)
SHIP = Step(
    "ship",
    "shipping",
    EventType.SHIPPING_CREATE,
    EventType.SHIPPING_CREATED,
    Compensation(
        "cancel_shipment", EventType.SHIPPING_CANCEL, EventType.SHIPPING_CANCELLED, CancelShipment
    ),
)

# Command ids must be contract `Identifier`s (at most 128 characters): the longest one,
# `order-<orderId>:cancel_shipment`, bounds the order ids a saga can run.
IDENTIFIER_MAX_LENGTH = 128
MAX_ORDER_ID_LENGTH = (
    IDENTIFIER_MAX_LENGTH
    - len(saga_instance_id(""))
    - max(len(f":{s.compensation.name}") for s in (RESERVE, CHARGE, SHIP))
)

STATUS_EVENT: dict[Outcome, EventType] = {
    "completed": EventType.ORDER_COMPLETED,
    "rejected": EventType.ORDER_FAILED,
    "compensated": EventType.ORDER_COMPENSATED,
    "compensation_failed": EventType.ORDER_FAILED,
}


@dataclass(frozen=True)
class StepOutcome:
    """How a step ended. `reply` is the success reply; `uncertain` means the step may have
    had an effect although no success was seen (timeout, or its command's send failed),
    so it is compensated along with the completed steps."""

    reply: Reply | None
    reason: str | None = None
    uncertain: bool = False

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
        self.reservation_id: str | None = None
        self.charge_id: str | None = None
        self.tracking_id: str | None = None
        self.approval: Literal["approved", "rejected", "timed_out"] | None = None

    def run(self) -> Flow:
        order = self.order
        if len(order.order_id) > MAX_ORDER_ID_LENGTH:
            raise ValueError(
                f"order id longer than {MAX_ORDER_ID_LENGTH} characters: its command ids "
                "would not be valid identifiers"
            )
        self._log("saga started", amount_cents=order.amount_cents)
        done: list[Step] = []

        reserve = ReserveInventory(
            saga_id=self.saga_id,
            command_id=command_id(self.saga_id, RESERVE.name),
            order_id=order.order_id,
            items=order.items,
        )
        outcome = yield from self.step(RESERVE, reserve)
        if not outcome.succeeded:
            return (yield from self.fail(RESERVE.name, outcome, done, RESERVE))
        assert isinstance(outcome.reply, InventoryReserved)
        self.reservation_id = outcome.reply.reservation_id
        done.append(RESERVE)

        if order.amount_cents > self.config.approval_threshold_cents:
            reason = yield from self.wait_for_approval()
            if reason is not None:
                return (yield from self.fail("approval", StepOutcome(None, reason), done, None))

        charge = ChargePayment(
            saga_id=self.saga_id,
            command_id=command_id(self.saga_id, CHARGE.name),
            order_id=order.order_id,
            customer_id=order.customer_id,
            amount_cents=order.amount_cents,
            currency=order.currency,
            card_number=order.card_number,
        )
        outcome = yield from self.step(CHARGE, charge)
        if not outcome.succeeded:
            return (yield from self.fail(CHARGE.name, outcome, done, CHARGE))
        assert isinstance(outcome.reply, PaymentCharged)
        self.charge_id = outcome.reply.charge_id
        done.append(CHARGE)

        ship = CreateShipment(
            saga_id=self.saga_id,
            command_id=command_id(self.saga_id, SHIP.name),
            order_id=order.order_id,
            address=order.shipping_address,
            items=order.items,
        )
        outcome = yield from self.step(SHIP, ship)
        if not outcome.succeeded:
            return (yield from self.fail(SHIP.name, outcome, done, SHIP))
        assert isinstance(outcome.reply, ShipmentCreated)
        self.tracking_id = outcome.reply.tracking_id

        return (yield from self.finish("completed"))

    # -- steps -------------------------------------------------------------------------

    def step(self, step: Step, command: Command) -> Flow:
        """Sends the step's command and waits for its reply or the step timeout."""
        set_status(self.ctx, step=step.status, orderId=self.order.order_id)
        reply_event = self.ctx.wait_for_external_event(command.command_id)
        error = yield from self.send(step.command_type, command)
        if error is not None:
            return StepOutcome(None, f"{step.command_type} not sent: {error}", uncertain=True)
        timeout = self.config.step_timeout_seconds
        deadline = self.ctx.create_timer(timedelta(seconds=timeout))
        while True:
            winner = yield wf.when_any([reply_event, deadline])
            if winner is deadline:
                self._log("step timed out", step=step.name, timeout_s=timeout)
                return StepOutcome(
                    None, f"no reply to {step.command_type} within {timeout:g}s", uncertain=True
                )
            reply_type, reply = self.parse_reply(reply_event.get_result(), command.command_id)
            if reply is not None:
                break
            reply_event = self.ctx.wait_for_external_event(command.command_id)
        self._log("step replied", step=step.name, reply=reply_type)
        if reply_type == step.success_type:
            return StepOutcome(reply)
        reason = getattr(reply, "reason", None) or "no reason given"
        return StepOutcome(None, f"{reply_type}: {reason}")

    def wait_for_approval(self) -> Flow:
        """Runs the approval child workflow; None when approved, else why not."""
        set_status(self.ctx, step="awaiting_approval", orderId=self.order.order_id)
        request = ApprovalRequest(
            order_id=self.order.order_id,
            saga_id=self.saga_id,
            customer_id=self.order.customer_id,
            amount_cents=self.order.amount_cents,
            currency=self.order.currency,
            timeout_seconds=self.config.approval_timeout_seconds,
            reminder_seconds=self.config.approval_reminder_seconds,
        )
        try:
            output = yield self.ctx.call_child_workflow(
                WorkflowName.APPROVAL,
                input=request.to_data(),
                instance_id=approval_instance_id(self.order.order_id),
            )
            result = ApprovalResult.parse(output)
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
        self, failed_step: str, outcome: StepOutcome, done: list[Step], current: Step | None
    ) -> Flow:
        """Compensates the completed steps (and an uncertain current one), newest first."""
        to_undo = list(done)
        if current is not None and outcome.uncertain:
            to_undo.append(current)
        reason = outcome.reason or "failed"
        self._log("saga failed; compensating", failed_step=failed_step, reason=reason)
        if not to_undo:
            return (yield from self.finish("rejected", reason=reason, failed_step=failed_step))
        acknowledged: list[str] = []
        unacknowledged: list[str] = []
        for step in reversed(to_undo):
            ok = yield from self.compensate(step.compensation)
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
                "compensated", reason=reason, failed_step=failed_step, compensations=acknowledged
            )
        )

    def compensate(self, compensation: Compensation) -> Flow:
        """Sends a compensation until its reply arrives, at most `compensation_attempts`
        times, each waited for `compensation_timeout_seconds`; True when acknowledged.

        One reply waiter serves every attempt: a late reply to an earlier send (same
        command id) acknowledges the compensation just as well.
        """
        cid = command_id(self.saga_id, compensation.name)
        command = compensation.model(
            saga_id=self.saga_id, command_id=cid, order_id=self.order.order_id
        )
        reply_event = self.ctx.wait_for_external_event(cid)
        attempts = self.config.compensation_attempts
        for attempt in range(1, attempts + 1):
            set_status(
                self.ctx,
                step="compensating",
                compensation=compensation.name,
                attempt=attempt,
                orderId=self.order.order_id,
            )
            error = yield from self.send(compensation.command_type, command)
            if error is not None:
                self._log("compensation not sent", compensation=compensation.name, error=error)
                continue
            deadline = self.ctx.create_timer(
                timedelta(seconds=self.config.compensation_timeout_seconds)
            )
            while True:
                winner = yield wf.when_any([reply_event, deadline])
                if winner is deadline:
                    break
                reply_type, reply = self.parse_reply(reply_event.get_result(), cid)
                if reply is not None and reply_type == compensation.ack_type:
                    self._log("compensated", compensation=compensation.name, attempt=attempt)
                    return True
                reply_event = self.ctx.wait_for_external_event(cid)
            self._log("compensation unanswered", compensation=compensation.name, attempt=attempt)
        if not self.ctx.is_replaying:
            log.error(
                "compensation never acknowledged",
                extra={
                    "saga_id": self.saga_id,
                    "instance_id": self.ctx.instance_id,
                    "compensation": compensation.name,
                    "attempts": attempts,
                },
            )
        return False

    def finish(
        self,
        outcome: Outcome,
        *,
        reason: str | None = None,
        failed_step: str | None = None,
        compensations: list[str] | None = None,
        failed_compensations: list[str] | None = None,
    ) -> Flow:
        """Publishes the saga's status event and returns its `SagaResult`."""
        result = SagaResult(
            order_id=self.order.order_id,
            outcome=outcome,
            reason=reason,
            failed_step=failed_step,
            reservation_id=self.reservation_id,
            charge_id=self.charge_id,
            tracking_id=self.tracking_id,
            approval=self.approval,
            compensations=compensations or [],
        )
        status = OrderStatus(
            order_id=self.order.order_id,
            saga_id=self.saga_id,
            outcome=outcome,
            reason=reason,
            failed_step=failed_step,
            tracking_id=self.tracking_id,
            charge_id=self.charge_id,
            amount_cents=self.order.amount_cents,
            compensations=compensations or [],
        )
        final: dict[str, Any] = {"step": outcome, "outcome": outcome, "orderId": result.order_id}
        if failed_step:
            final["failedStep"] = failed_step
        if failed_compensations:
            final["failedCompensations"] = failed_compensations
        set_status(self.ctx, **final)
        yield self.ctx.call_activity(
            ActivityName.PUBLISH_ORDER_STATUS,
            input=status_input(STATUS_EVENT[outcome], status.to_data()),
            retry_policy=IO_RETRY,
        )
        self._log("saga finished", outcome=outcome, reason=reason)
        return result.to_data()

    # -- helpers -----------------------------------------------------------------------

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

    def _log(self, message: str, **extra: Any) -> None:
        _log(self.ctx, message, self.saga_id, order_id=self.order.order_id, **extra)


def order_saga(ctx: wf.DaprWorkflowContext, data: dict[str, Any]) -> Flow:
    """reserve -> (approval) -> charge -> ship; compensates in reverse on failure."""
    return (yield from OrderSaga(ctx, SagaInput.parse(data)).run())


# --- approval -------------------------------------------------------------------------


def approval(ctx: wf.DaprWorkflowContext, data: dict[str, Any]) -> Flow:
    """Publishes `approval.requested` and waits for `approval_decision`, a reminder timer
    (re-publishes the request once, `reminder: true`) and the expiry timer."""
    request = ApprovalRequest.parse(data)
    started = ctx.current_utc_datetime
    expires = started + timedelta(seconds=request.timeout_seconds)
    announcement = ApprovalRequested(
        order_id=request.order_id,
        saga_id=request.saga_id,
        approval_id=ctx.instance_id,
        customer_id=request.customer_id,
        amount_cents=request.amount_cents,
        currency=request.currency,
        expires_at=_aware(expires),
    )
    set_status(ctx, step="awaiting_decision", expiresAt=announcement.expires_at.isoformat())
    yield ctx.call_activity(
        ActivityName.PUBLISH_APPROVAL_REQUEST, input=announcement.to_data(), retry_policy=IO_RETRY
    )
    _log(ctx, "approval requested", request.saga_id, order_id=request.order_id)

    expiry = ctx.create_timer(expires)
    reminder = None
    if request.reminder_seconds is not None and request.reminder_seconds < request.timeout_seconds:
        reminder = ctx.create_timer(started + timedelta(seconds=request.reminder_seconds))
    decision_event = ctx.wait_for_external_event(APPROVAL_DECISION_EVENT)
    while True:
        waiting = [decision_event, expiry] + ([reminder] if reminder is not None else [])
        winner = yield wf.when_any(waiting)
        if winner is expiry:
            result = ApprovalResult(decision="timed_out")
            break
        if winner is reminder:
            reminder = None
            yield ctx.call_activity(
                ActivityName.PUBLISH_APPROVAL_REQUEST,
                input=announcement.model_copy(update={"reminder": True}).to_data(),
                retry_policy=IO_RETRY,
            )
            _log(ctx, "approval reminder sent", request.saga_id, order_id=request.order_id)
            continue
        decided = _decision(ctx, decision_event.get_result(), request)
        if decided is not None:
            result = ApprovalResult(
                decision="approved" if decided.approved else "rejected",
                approver=decided.approver,
                reason=decided.reason,
            )
            break
        decision_event = ctx.wait_for_external_event(APPROVAL_DECISION_EVENT)
    set_status(ctx, step="decided", decision=result.decision)
    _log(ctx, "approval finished", request.saga_id, decision=result.decision)
    return result.to_data()


def _decision(
    ctx: wf.DaprWorkflowContext, data: Any, request: ApprovalRequest
) -> ApprovalDecided | None:
    """A valid decision for this order, or None (logged) for anything else."""
    try:
        if not isinstance(data, dict | str):
            raise InvalidMessage(f"decision is a {type(data).__name__}, not an object")
        decided = ApprovalDecided.parse(data)
    except InvalidMessage as error:
        _log(ctx, "malformed approval decision ignored", request.saga_id, error=error.reason)
        return None
    if decided.order_id != request.order_id:
        _log(ctx, "decision for another order ignored", request.saga_id, other=decided.order_id)
        return None
    return decided


def _aware(moment: datetime) -> datetime:
    """The SDK's clock is naive UTC; published timestamps carry their zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- batch ----------------------------------------------------------------------------

BATCH_OUTCOMES = ("completed", "rejected", "compensated", "compensation_failed", "failed")


def order_batch(ctx: wf.DaprWorkflowContext, data: dict[str, Any]) -> Flow:
    """Fans the orders out as child `order_saga` workflows (`order-<orderId>`) and counts
    their outcomes; a child that failed as a workflow counts as `failed`."""
    batch = BatchInput.parse(data)
    ids = [order.order_id for order in batch.orders]
    repeated = sorted({order_id for order_id in ids if ids.count(order_id) > 1})
    if repeated:
        raise ValueError(f"batch {batch.batch_id} lists orders more than once: {repeated}")
    set_status(ctx, step="running", total=len(ids))
    children: list[Any] = [
        ctx.call_child_workflow(
            WorkflowName.ORDER_SAGA,
            input=SagaInput(order=order, config=batch.config).to_data(),
            instance_id=saga_instance_id(order.order_id),
        )
        for order in batch.orders
    ]
    # Each child is looked at below: one failure must not hide the other results.
    with contextlib.suppress(wf.TaskFailedError):
        yield wf.when_all(children)
    outcomes: Counter[str] = Counter({name: 0 for name in BATCH_OUTCOMES})
    results: list[SagaResult] = []
    for order, child in zip(batch.orders, children, strict=True):
        if child.is_failed:
            outcomes["failed"] += 1
            _log(
                ctx,
                "child saga failed",
                saga_instance_id(order.order_id),
                error=str(child.get_exception()),
            )
            continue
        result = SagaResult.parse(child.get_result())
        outcomes[result.outcome] += 1
        results.append(result)
    summary = BatchResult(
        batch_id=batch.batch_id, total=len(ids), outcomes=dict(outcomes), results=results
    )
    set_status(ctx, step="done", total=len(ids), outcomes=summary.outcomes)
    return summary.to_data()


# --- stock monitor --------------------------------------------------------------------


def stock_monitor(ctx: wf.DaprWorkflowContext, data: dict[str, Any]) -> Flow:
    """Reads the SKUs' stock every `interval_seconds`; a SKU whose available stock is below
    the threshold raises one `inventory.low-stock` alert until it is seen recovered.
    Every `checks_before_continue_as_new` checks it continues as new (bounded history),
    carrying `checks_done` and `alerted`; it ends after `max_checks` when that is set.

    A check that cannot read the stock (after the activity's retries) is recorded in the
    custom status (`lastError`) and the monitor carries on: one outage must not end it."""
    monitor = StockMonitorInput.parse(data)
    checks_done = monitor.checks_done
    alerted = list(monitor.alerted)
    checks_this_run = 0
    while True:
        check = yield from _check_stock(ctx, monitor, alerted)
        alerted = check["alerted"]
        checks_done += 1
        checks_this_run += 1
        set_status(ctx, step="monitoring", checksDone=checks_done, **check)
        if monitor.max_checks is not None and checks_done >= monitor.max_checks:
            set_status(ctx, step="done", checksDone=checks_done, **check)
            return {"checksDone": checks_done, "low": check["low"], "alerted": alerted}
        yield ctx.create_timer(timedelta(seconds=monitor.interval_seconds))
        if checks_this_run >= monitor.checks_before_continue_as_new:
            carried = monitor.model_copy(update={"checks_done": checks_done, "alerted": alerted})
            ctx.continue_as_new(carried.to_data())
            return None


def _check_stock(
    ctx: wf.DaprWorkflowContext, monitor: StockMonitorInput, alerted: list[str]
) -> Flow:
    """One check: `low`, `unknown` (not stored, or unreadable) and the new `alerted` list;
    `lastError` when the stock could not be read or an alert not published."""
    try:
        raw = yield ctx.call_activity(
            ActivityName.READ_STOCK_LEVELS, input={"skus": monitor.skus}, retry_policy=IO_RETRY
        )
    except wf.TaskFailedError as unread:
        return {"low": [], "unknown": monitor.skus, "alerted": alerted, "lastError": str(unread)}
    levels = {sku: StockLevel.parse(level) for sku, level in raw.items() if level}
    unknown = [sku for sku in monitor.skus if sku not in levels]
    low = [
        sku
        for sku in monitor.skus
        if sku in levels and levels[sku].available < monitor.low_stock_threshold
    ]
    new_alerts = [sku for sku in low if sku not in alerted]
    publishing: list[Any] = [
        ctx.call_activity(
            ActivityName.PUBLISH_LOW_STOCK_ALERT,
            input=levels[sku].to_data(),
            retry_policy=IO_RETRY,
        )
        for sku in new_alerts
    ]
    error: str | None = None
    if publishing:
        try:
            yield wf.when_all(publishing)
        except wf.TaskFailedError as failed:
            error = str(failed)  # the SKUs not alerted stay unalerted: tried again next check
    sent = [sku for sku, task in zip(new_alerts, publishing, strict=True) if not task.is_failed]
    # Recovered SKUs may alert again; unknown ones keep their state until seen again.
    check: dict[str, Any] = {
        "low": low,
        "unknown": unknown,
        "alerted": [sku for sku in alerted if sku in low or sku in unknown] + sent,
    }
    if error is not None:
        check["lastError"] = error
    return check


WORKFLOWS = {
    WorkflowName.ORDER_SAGA: order_saga,
    WorkflowName.APPROVAL: approval,
    WorkflowName.ORDER_BATCH: order_batch,
    WorkflowName.STOCK_MONITOR: stock_monitor,
}
