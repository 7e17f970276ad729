"""The orchestrator's business metrics: sagas by outcome, step, compensation and approval
latency. Served with every other metric of the process on the API's `/metrics`.

Counted where a fact is final, never inside workflow code (which replays):

- a saga *started* when the `send_command` activity first sends its first step's command;
- a saga *finished*, with its steps', compensations' and approval's durations, when the
  `publish_order_status` activity has published its outcome. The durations are measured by
  the workflow on its own clock (`ctx.current_utc_datetime`, the same on every replay) and
  travel in that activity's input (`SagaTimings`), so they are right whichever replica
  ran which step and across restarts;
- an approval *requested* when `publish_approval_request` publishes the first request.

An activity runs at least once: each fact is counted once per saga (approval) id by a
`Once` window, so a re-dispatched activity or a redelivered reply counts nothing twice.

Label names match the span attributes tracing will use (`saga.step`, `saga.outcome`,
`saga.compensation`), so a metric's exemplar and a trace's span name the same step.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from services.common.metrics import Once
from services.contracts.messages import OrderStatus
from services.contracts.names import CompensationName, StepName
from services.contracts.topology import OUTCOME_EVENT_TYPES
from services.orchestrator.workflow_io import SagaTimings

# Seconds: a reply within milliseconds up to a step timeout's worth (30 s by default).
STEP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# An approval is a human: minutes to days (the default expiry is 72 h).
APPROVAL_BUCKETS = (1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400)

SAGAS_STARTED = Counter("saga_started", "Sagas that sent their first command.")
SAGAS_FINISHED = Counter(
    "saga_finished",
    "Sagas that ended, by outcome and the step that failed ('' when completed).",
    ["outcome", "failed_step"],
)
STEP_DURATION = Histogram(
    "saga_step_duration_seconds",
    "From sending a step's command to its reply (or timeout), by step and result.",
    ["step", "result"],
    buckets=STEP_BUCKETS,
)
COMPENSATIONS = Counter(
    "saga_compensations",
    "Compensations run by failed sagas, by compensation and result.",
    ["compensation", "result"],
)
COMPENSATION_DURATION = Histogram(
    "saga_compensation_duration_seconds",
    "From a compensation's first send to its acknowledgement or giving up.",
    ["compensation", "result"],
    buckets=STEP_BUCKETS,
)
APPROVALS_REQUESTED = Counter("saga_approvals_requested", "Approvals requested of a person.")
APPROVAL_DECISION = Histogram(
    "saga_approval_decision_seconds",
    "From an approval's request to its decision (or expiry), by decision.",
    ["decision"],
    buckets=APPROVAL_BUCKETS,
)

_started = Once()
_finished = Once()
_requested = Once()


def declare() -> None:
    """Creates the outcome and compensation series at 0, so that `increase()` sees their
    first event (a series that appears at 1 has no increase)."""
    for outcome in OUTCOME_EVENT_TYPES:
        for step in [""] if outcome == "completed" else list(StepName):
            SAGAS_FINISHED.labels(outcome, step)
    for compensation in CompensationName:
        for result in ("acknowledged", "failed"):
            COMPENSATIONS.labels(compensation, result)


def record_saga_started(saga_id: str) -> None:
    if _started.first(saga_id):
        SAGAS_STARTED.inc()


def record_approval_requested(approval_id: str) -> None:
    if _requested.first(approval_id):
        APPROVALS_REQUESTED.inc()


def record_saga_finished(status: OrderStatus, timings: SagaTimings) -> None:
    """The saga's outcome and every duration it measured, once per saga id."""
    if not _finished.first(status.saga_id):
        return
    SAGAS_FINISHED.labels(status.outcome, status.failed_step or "").inc()
    for step in timings.steps:
        STEP_DURATION.labels(step.name, step.result).observe(step.seconds)
    for compensation in timings.compensations:
        COMPENSATIONS.labels(compensation.name, compensation.result).inc()
        COMPENSATION_DURATION.labels(compensation.name, compensation.result).observe(
            compensation.seconds
        )
    if timings.approval is not None:
        APPROVAL_DECISION.labels(timings.approval.result).observe(timings.approval.seconds)
