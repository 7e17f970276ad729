"""Inputs and outputs of the orchestrator's workflows, and `SagaConfig`, the settings a saga
carries in its input.

Configuration travels inside the input (determinism: workflow code reads no environment),
so a run replays with the settings it started with.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from services.contracts.messages import Contract, Identifier, OrderId, OrderPlaced, Outcome


class SagaConfig(Contract):
    approval_threshold_cents: Annotated[int, Field(ge=0)] = 100_000
    step_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    approval_timeout_seconds: Annotated[float, Field(gt=0)] = 72 * 3600.0
    approval_reminder_seconds: Annotated[float, Field(gt=0)] | None = 24 * 3600.0
    compensation_attempts: Annotated[int, Field(ge=1)] = 5
    compensation_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0


StepResult = Literal["success", "failure", "timeout", "not_sent", "cancelled"]
CompensationResult = Literal["acknowledged", "failed"]
ApprovalDecision = Literal["approved", "rejected", "timed_out"]


class Timing(Contract):
    """How long one part of a saga took, by the workflow's own clock (replay gives the same
    value), and how it ended; `name` is a `StepName` or a `CompensationName`."""

    name: str
    result: str
    seconds: Annotated[float, Field(ge=0)]


class SagaTimings(Contract):
    """What a saga hands its final activity for the metrics: each step, each compensation
    and the approval wait, in the order they ran."""

    steps: list[Timing] = []
    compensations: list[Timing] = []
    approval: Timing | None = None


class SagaInput(Contract):
    order: OrderPlaced
    config: SagaConfig = SagaConfig()


# The external event that cancels a running saga (`POST /v1/orders/{orderId}/cancel`).
CANCEL_ORDER_EVENT = "cancel_order"


class CancelRequest(Contract):
    """The data of `cancel_order`: who asked (the API caller's subject) and why."""

    requested_by: Annotated[str, Field(min_length=1)]
    reason: str | None = None


class SagaResult(Contract):
    order_id: OrderId
    outcome: Outcome
    reason: str | None = None
    failed_step: str | None = None
    reservation_id: str | None = None
    charge_id: str | None = None
    tracking_id: str | None = None
    approval: ApprovalDecision | None = None
    compensations: list[str] = []


class ApprovalRequest(Contract):
    """Input of the `approval` workflow (instance id `approval-<orderId>`)."""

    order_id: OrderId
    saga_id: Identifier
    customer_id: Identifier
    amount_cents: int
    currency: str
    timeout_seconds: Annotated[float, Field(gt=0)]
    reminder_seconds: Annotated[float, Field(gt=0)] | None = None


class ApprovalResult(Contract):
    decision: ApprovalDecision
    approver: str | None = None
    reason: str | None = None


class BatchInput(Contract):
    """Input of `order_batch`: orders run as child sagas, fanned out and aggregated."""

    batch_id: Identifier
    orders: Annotated[list[OrderPlaced], Field(min_length=1, max_length=500)]
    config: SagaConfig = SagaConfig()


class BatchResult(Contract):
    batch_id: Identifier
    total: int
    outcomes: dict[str, int]
    results: list[SagaResult]


class StockMonitorInput(Contract):
    """Input of `stock_monitor`: polls stock levels and alerts below the threshold."""

    skus: Annotated[list[str], Field(min_length=1)]
    low_stock_threshold: Annotated[int, Field(ge=0)] = 5
    interval_seconds: Annotated[float, Field(gt=0)] = 60.0
    checks_before_continue_as_new: Annotated[int, Field(ge=1)] = 10
    checks_done: int = 0
    max_checks: int | None = None
    alerted: list[str] = []
