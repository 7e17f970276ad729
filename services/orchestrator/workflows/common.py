"""What the workflows share: the activities' retry policy, the custom status, and logging
that writes each line once although the code replays."""

from __future__ import annotations

import json
import logging
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf

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


def set_status(ctx: wf.DaprWorkflowContext, **fields: Any) -> None:
    """Custom status as a JSON object (camelCase keys), shown by the API and the CLI."""
    ctx.set_custom_status(json.dumps(fields, sort_keys=True))


def log_once(
    ctx: wf.DaprWorkflowContext,
    message: str,
    saga_id: str,
    level: int = logging.INFO,
    **extra: Any,
) -> None:
    """Logs with the saga's ids, only when the code runs for the first time (not replaying)."""
    if not ctx.is_replaying:
        log.log(level, message, extra={"saga_id": saga_id, "instance_id": ctx.instance_id, **extra})
