"""A run's trace from the local span store (`TRACE_STORE`, `foundation.span_store`): what
`sagactl workflow trace` draws, for a platform running with no trace collector.

With a collector, the spans are there (by trace id, or by the `saga.id` attribute) and this
route answers 404 `TRACES_NOT_KEPT`, saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from foundation.span_store import StoredSpan, saga_traces
from services.orchestrator.api.dependencies import Reader, SettingsDep
from services.orchestrator.api.errors import ErrorCode, error_responses, not_found
from services.orchestrator.api.schemas import RunTrace, TraceSpan

router = APIRouter(prefix="/v1", tags=["runs"])


@router.get(
    "/runs/{instanceId}/trace",
    summary="A saga's trace: every span of the traces that touched it (local span store)",
    description="The spans the apps kept in the local span store (`TRACE_STORE`), of every "
    "trace with a span of this saga: the API call that placed the order, the orchestrator's "
    "handlers and steps, the services' command handlers. 404 `TRACES_NOT_KEPT` when the "
    "platform keeps no spans locally (they go to an OTLP collector).",
    responses=error_responses(404, 422),
)
def get_run_trace(
    instance_id: Annotated[str, Path(alias="instanceId", description="The saga's instance id.")],
    settings: SettingsDep,
    caller: Reader,
) -> RunTrace:
    if settings.trace_store is None:
        raise not_found(
            ErrorCode.TRACES_NOT_KEPT,
            "this platform keeps no spans locally (TRACE_STORE is unset): look the trace up "
            "in the OTLP collector",
        )
    spans = saga_traces(settings.trace_store, instance_id)
    if not spans:
        raise not_found(ErrorCode.TRACE_NOT_FOUND, f"no span of '{instance_id}' is kept")
    return RunTrace(instance_id=instance_id, spans=[_span(span) for span in spans])


def _span(span: StoredSpan) -> TraceSpan:
    return TraceSpan(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        kind=span.kind,
        service=span.service,
        start=datetime.fromtimestamp(span.start_ns / 1e9, UTC),
        duration_ms=(span.end_ns - span.start_ns) / 1e6,
        status=span.status,
        attributes=span.attributes,
    )
