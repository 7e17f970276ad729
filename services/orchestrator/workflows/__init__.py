"""The orchestrator's workflows, one module each: the order saga (`saga`), its approval
(`approval`), a batch of sagas (`batch`) and the stock monitor (`stock_monitor`). Pure
orchestration: every side effect is an activity (`services.orchestrator.activities`).

Determinism rules, which every workflow keeps because the SDK replays it from its history
after each event and after any restart:

- time only from `ctx.current_utc_datetime`; timers via `ctx.create_timer`;
- no environment, randomness or I/O: configuration arrives in the input (`SagaConfig`);
- ids derived from the instance id (`command_id`: `<sagaId>:<step or compensation>`, the
  same on every resend);
- logging only when `not ctx.is_replaying` (`log_once`), so each line is written once.

Inputs and outputs are the JSON form of `services.orchestrator.workflow_io` (camelCase
dicts, `to_data()`), parsed on entry, so what the API shows and what a workflow reads are
the same document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import dapr.ext.workflow as wf

from services.contracts.names import WorkflowName
from services.orchestrator.workflows.approval import approval
from services.orchestrator.workflows.batch import order_batch
from services.orchestrator.workflows.common import Flow
from services.orchestrator.workflows.saga import order_saga
from services.orchestrator.workflows.stock_monitor import stock_monitor

Workflow = Callable[[wf.DaprWorkflowContext, dict[str, Any]], Flow]

WORKFLOWS: Mapping[WorkflowName, Workflow] = {
    WorkflowName.ORDER_SAGA: order_saga,
    WorkflowName.APPROVAL: approval,
    WorkflowName.ORDER_BATCH: order_batch,
    WorkflowName.STOCK_MONITOR: stock_monitor,
}
