"""How a saga's run reads: its stage while it runs, and at the end whether it ended the
way its order's kind expects (`scenarios.EXPECTED`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from demo.orders import DemoOrder
from demo.scenarios import EXPECTED
from services.contracts.topology import OUTCOME_EVENT_TYPES, TERMINAL_RUNTIME_STATUSES

NOT_STARTED = "NOT_STARTED"


def is_terminal(run: Mapping[str, Any] | None) -> bool:
    return run is not None and str(run.get("status")) in TERMINAL_RUNTIME_STATUSES


def stage(run: Mapping[str, Any]) -> str:
    """The step a running saga is at (its custom status), or how it ended."""
    status = str(run.get("status"))
    output = run.get("output")
    if status == "COMPLETED" and isinstance(output, Mapping) and output.get("outcome"):
        return str(output["outcome"])
    if status in TERMINAL_RUNTIME_STATUSES:
        return status.lower()
    custom = run.get("customStatus")
    if isinstance(custom, Mapping) and custom.get("step"):
        step = str(custom["step"])
        # The saga sets its outcome as its status, then publishes the status event.
        return "finishing" if step in OUTCOME_EVENT_TYPES else step
    return "started"


@dataclass(frozen=True)
class OrderReport:
    order_id: str
    kind: str
    expected: str
    status: str  # the run's status, or NOT_STARTED
    outcome: str | None
    failed_step: str | None
    compensations: list[str]
    approval: str | None
    seconds: float | None  # the run's creation to its last update
    problem: str | None


def judge(demo: DemoOrder, run: Mapping[str, Any] | None) -> OrderReport:
    """How one order ended, against its kind's expectation."""
    expected = EXPECTED[demo.kind]
    output = run.get("output") if run else None
    result: Mapping[str, Any] = output if isinstance(output, Mapping) else {}
    status = str(run["status"]) if run else NOT_STARTED
    report = OrderReport(
        order_id=demo.order_id,
        kind=str(demo.kind),
        expected=expected.outcome,
        status=status,
        outcome=result.get("outcome"),
        failed_step=result.get("failedStep"),
        compensations=list(result.get("compensations") or []),
        approval=result.get("approval"),
        seconds=_duration(run),
        problem=None,
    )
    compensations = [str(c) for c in expected.compensations]
    problem = None
    if not is_terminal(run):
        problem = f"stuck: {status} at the deadline"
    elif status != "COMPLETED":
        failure = (run or {}).get("failure") or {}
        problem = f"the workflow ended {status}: {failure.get('message', '')}".rstrip(": ")
    elif report.outcome != expected.outcome:
        problem = f"outcome {report.outcome}, expected {expected.outcome}"
    elif report.failed_step != expected.failed_step:
        problem = f"failed at {report.failed_step}, expected {expected.failed_step}"
    elif report.compensations != compensations:
        problem = f"compensations {report.compensations}, expected {compensations}"
    elif report.approval != expected.approval:
        problem = f"approval {report.approval}, expected {expected.approval}"
    return replace(report, problem=problem)


def _duration(run: Mapping[str, Any] | None) -> float | None:
    if not run or not run.get("createdAt") or not run.get("lastUpdatedAt"):
        return None
    try:
        created = datetime.fromisoformat(str(run["createdAt"]))
        updated = datetime.fromisoformat(str(run["lastUpdatedAt"]))
    except ValueError:
        return None
    return max((updated - created).total_seconds(), 0.0)
