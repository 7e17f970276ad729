"""Small workflows the operator tests run, registered under names the management API knows.

The API starts only the platform's workflows (it validates each one's input), so the stand-ins
borrow their names and accept their inputs: `stock_monitor` echoes its input at once (a run
that completes with an output), `approval` waits for `approval_decision` like the real one
(a run that stays running until an event, long enough to suspend, terminate or delete it).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import dapr.ext.workflow as wf

from services.contracts.names import APPROVAL_DECISION_EVENT, WorkflowName

ECHO = str(WorkflowName.STOCK_MONITOR)
APPROVAL = str(WorkflowName.APPROVAL)

ECHO_INPUT: dict[str, Any] = {"skus": ["sku-1", "sku-2"]}
APPROVAL_INPUT: dict[str, Any] = {
    "orderId": "o-1",
    "sagaId": "order-o-1",
    "customerId": "c-1",
    "amountCents": 250_000,
    "currency": "USD",
    "timeoutSeconds": 3600,
}


def register_stand_ins(runtime: wf.WorkflowRuntime) -> None:
    # Fresh functions per runtime: the SDK refuses to register one function object twice.
    def echo(ctx: wf.DaprWorkflowContext, data: Any) -> dict[str, Any]:
        return {"echo": data}

    def approval(ctx: wf.DaprWorkflowContext, data: Any) -> Generator[Any, Any, dict[str, Any]]:
        decision = yield ctx.wait_for_external_event(APPROVAL_DECISION_EVENT)
        decided = decision if isinstance(decision, dict) else {"decision": decision}
        return {"orderId": data["orderId"], **decided}

    runtime.register_workflow(echo, name=ECHO)
    runtime.register_workflow(approval, name=APPROVAL)
