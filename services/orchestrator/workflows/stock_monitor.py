"""`stock_monitor`: a monitor that polls stock levels and continues as new."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf

from services.contracts.messages import StockLevel
from services.orchestrator.activities import ActivityName
from services.orchestrator.workflow_io import StockMonitorInput
from services.orchestrator.workflows.common import IO_RETRY, Flow, set_status


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
