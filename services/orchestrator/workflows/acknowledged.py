"""Sending a command until its reply acknowledges it: how the saga runs what it may not
give up on after one timeout, its compensations and, once its order shipped, its
completions (the topology's `Compensation` and `Completion`).

Such a command cannot be refused, only be late: the service answers it as a no-op when
there is nothing to do. So it is sent up to `attempts` times, each waited for
`timeout_seconds`, always under the same command id, and one reply waiter serves every
attempt: a late reply to an earlier send acknowledges it just as well.

Workflow code: every wait is a history event, so a replay takes the same path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf

from services.contracts.messages import Reply
from services.contracts.names import EventType
from services.orchestrator.workflows.common import Flow


def until_acknowledged(
    ctx: wf.DaprWorkflowContext,
    command_id: str,
    ack: EventType,
    *,
    attempts: int,
    timeout_seconds: float,
    send: Callable[[], Flow],
    parse: Callable[[Any], tuple[str, Reply | None]],
    show_attempt: Callable[[int], None],
    log: Callable[..., None],
) -> Flow:
    """True once a reply of type `ack` arrives for `command_id`, False after `attempts`
    unanswered sends. `send` publishes the command once (its error, or None), `parse`
    reads a raised event (`OrderSaga.parse_reply`), `show_attempt` puts the attempt into
    the custom status, `log` writes a line once (not on replay)."""
    reply_event = ctx.wait_for_external_event(command_id)
    for attempt in range(1, attempts + 1):
        show_attempt(attempt)
        error = yield from send()
        if error is not None:
            log("not sent", attempt=attempt, error=error)
            continue
        deadline = ctx.create_timer(timedelta(seconds=timeout_seconds))
        while True:
            winner = yield wf.when_any([reply_event, deadline])
            if winner is deadline:
                break
            reply_type, reply = parse(reply_event.get_result())
            if reply is not None and reply_type == ack:
                log("acknowledged", attempt=attempt)
                return True
            reply_event = ctx.wait_for_external_event(command_id)
        log("unanswered", attempt=attempt)
    log("never acknowledged", level=logging.ERROR, attempts=attempts)
    return False
