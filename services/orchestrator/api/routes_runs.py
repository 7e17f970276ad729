"""Workflow runs: start, get, list, history (JSON and Mermaid), raise event, suspend,
resume, terminate, rerun, purge. Each route translates HTTP into one gateway call and back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import PlainTextResponse

from foundation.durations import parse_go_duration
from services.contracts.names import WorkflowName
from services.contracts.topology import TERMINAL_RUNTIME_STATUSES
from services.orchestrator.api.audit import AuditAction, AuditTrail
from services.orchestrator.api.dependencies import (
    AuditDep,
    GatewayDep,
    Operator,
    Reader,
    SettingsDep,
)
from services.orchestrator.api.errors import (
    ErrorCode,
    error_responses,
    not_found,
    validation_failed,
)
from services.orchestrator.api.identity import Identity
from services.orchestrator.api.inputs import prepare_input
from services.orchestrator.api.mermaid import render_sequence
from services.orchestrator.api.schemas import (
    RUN_STATUSES,
    Accepted,
    History,
    Purged,
    PurgeRuns,
    RaiseEvent,
    Reason,
    Rerun,
    Run,
    RunPage,
    RunStarted,
    StartRun,
    Terminate,
    as_utc,
    run_from_state,
)
from services.orchestrator.api.validation import STATUS_LIST_PATTERN, Rfc3339, strict_body

router = APIRouter(prefix="/v1", tags=["runs"])

RunId = Annotated[str, Path(alias="instanceId", description="The run's instance id.")]


def _workflow(name: str) -> WorkflowName:
    try:
        return WorkflowName(name)
    except ValueError:
        known = ", ".join(w.value for w in WorkflowName)
        raise not_found(
            ErrorCode.WORKFLOW_NAME_NOT_FOUND,
            f"there is no workflow named '{name}' (known: {known})",
        ) from None


def _statuses(text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    statuses = frozenset(part.strip().upper() for part in text.split(",") if part.strip())
    unknown = sorted(statuses - set(RUN_STATUSES))
    if unknown:
        raise validation_failed(
            f"unknown status {', '.join(unknown)} (use {', '.join(RUN_STATUSES)})"
        )
    return statuses


@router.post(
    "/workflows/{name}/runs",
    status_code=HTTPStatus.CREATED,
    summary="Start a run of a workflow",
    responses=error_responses(400, 404, 409, 413, 422),
)
def start_run(
    name: Annotated[
        str, Path(description="One of order_saga, approval, order_batch, stock_monitor.")
    ],
    body: StartRun,
    response: Response,
    gateway: GatewayDep,
    settings: SettingsDep,
    caller: Operator,
    strict: Annotated[None, Depends(strict_body(StartRun))],
    audit: AuditDep,
) -> RunStarted:
    workflow = _workflow(name)
    data, default_id = prepare_input(workflow, body.input, settings.saga_config)
    start_at = as_utc(body.start_time) if body.start_time else None
    instance_id = gateway.start(workflow, data, body.instance_id or default_id, start_at)
    audit.record(caller, AuditAction.START, instance_id, workflow=str(workflow))
    return _started(instance_id, response)


def _started(instance_id: str, response: Response) -> RunStarted:
    response.headers["Location"] = f"/v1/runs/{instance_id}"
    return RunStarted(instance_id=instance_id)


@router.get(
    "/runs",
    summary="List runs, a page at a time",
    description="Pages over instance ids in the runtime's order; `status`, `name` and "
    "`createdAfter` filter each page, so a filtered page may hold fewer than `pageSize` runs "
    "(even none) while `continuationToken` says more pages remain. A continuation token the "
    "runtime did not hand out answers 400.",
    responses=error_responses(400, 422, 501),
)
def list_runs(
    gateway: GatewayDep,
    settings: SettingsDep,
    caller: Reader,
    status: Annotated[
        str | None,
        Query(
            pattern=STATUS_LIST_PATTERN,
            description="Runtime status, or several comma-separated.",
        ),
    ] = None,
    name: Annotated[str | None, Query(description="Workflow name.")] = None,
    created_after: Annotated[
        Rfc3339 | None,
        Query(
            alias="createdAfter",
            description="Only runs created at or after this moment (RFC 3339; UTC when it "
            "names no zone), as `dapr workflow list --filter-max-age`.",
        ),
    ] = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=500)] = 50,
    continuation_token: Annotated[str | None, Query(alias="continuationToken")] = None,
) -> RunPage:
    if page_size > settings.max_page_size:
        raise validation_failed(f"pageSize must be at most {settings.max_page_size}")
    states, token = gateway.list_runs(
        page_size,
        continuation_token,
        _statuses(status),
        name,
        as_utc(created_after) if created_after else None,
    )
    return RunPage(items=[run_from_state(state) for state in states], continuation_token=token)


@router.post(
    "/runs/purge",
    summary="Purge runs in bulk: every terminal run, or those older than a cutoff",
    responses=error_responses(422, 501),
)
def purge_runs(
    body: PurgeRuns,
    gateway: GatewayDep,
    caller: Operator,
    strict: Annotated[None, Depends(strict_body(PurgeRuns))],
    audit: AuditDep,
) -> Purged:
    created_before: datetime | None = None
    if body.older_than is not None:
        created_before = _cutoff(body.older_than)
    elif body.created_before is not None:
        created_before = as_utc(body.created_before)
    statuses = _statuses(body.status) or TERMINAL_RUNTIME_STATUSES
    running = sorted(statuses - TERMINAL_RUNTIME_STATUSES)
    if running and not body.force:
        raise validation_failed(
            f"purging {', '.join(running)} runs needs force: true (they are not terminal)"
        )
    purged = gateway.purge_where(statuses, created_before, force=body.force)
    audit.record(
        caller,
        AuditAction.PURGE,
        "*",
        olderThan=body.older_than,
        createdBefore=created_before.isoformat() if created_before else None,
        status=sorted(statuses),
        force=body.force,
        instanceIds=purged,
    )
    return Purged(purged=len(purged), instance_ids=purged)


def _cutoff(older_than: str) -> datetime | None:
    """Now minus a Go duration; None (any age) for one longer than the calendar reaches."""
    try:
        age = parse_go_duration(older_than)
    except ValueError as error:
        raise validation_failed(str(error)) from None
    except OverflowError:
        return None
    if age.total_seconds() < 0:
        raise validation_failed("olderThan must not be negative")
    try:
        return datetime.now(UTC) - age
    except OverflowError:
        return None


@router.get("/runs/{instanceId}", summary="Get a run", responses=error_responses(404, 422))
def get_run(instance_id: RunId, gateway: GatewayDep, caller: Reader) -> Run:
    return run_from_state(gateway.get(instance_id))


@router.get(
    "/runs/{instanceId}/history",
    summary="A run's history events",
    responses=error_responses(404, 422),
)
def get_run_history(instance_id: RunId, gateway: GatewayDep, caller: Reader) -> History:
    return History(instance_id=instance_id, events=gateway.history(instance_id))


@router.get(
    "/runs/{instanceId}/history/mermaid",
    summary="A run's history as a Mermaid sequence diagram",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Mermaid `sequenceDiagram` text"},
        **error_responses(404, 422),
    },
)
def get_run_history_mermaid(
    instance_id: RunId, gateway: GatewayDep, caller: Reader
) -> PlainTextResponse:
    state = gateway.get(instance_id, payloads=False)
    diagram = render_sequence(state.name, instance_id, gateway.history(instance_id))
    return PlainTextResponse(diagram)


@router.post(
    "/runs/{instanceId}/events/{eventName}",
    status_code=HTTPStatus.ACCEPTED,
    summary="Raise an external event into a run",
    responses=error_responses(400, 404, 409, 413, 422),
)
def raise_event(
    instance_id: RunId,
    event_name: Annotated[str, Path(alias="eventName", min_length=1, max_length=200)],
    gateway: GatewayDep,
    caller: Operator,
    strict: Annotated[None, Depends(strict_body(RaiseEvent))],
    audit: AuditDep,
    body: RaiseEvent | None = None,
) -> Accepted:
    gateway.raise_event(instance_id, event_name, body.data if body else None)
    audit.record(caller, AuditAction.RAISE_EVENT, instance_id, event=event_name)
    return Accepted(instance_id=instance_id)


@router.post(
    "/runs/{instanceId}/suspend",
    status_code=HTTPStatus.ACCEPTED,
    summary="Suspend a run",
    responses=error_responses(404, 409, 422),
)
def suspend_run(
    instance_id: RunId,
    gateway: GatewayDep,
    caller: Operator,
    strict: Annotated[None, Depends(strict_body(Reason))],
    audit: AuditDep,
    body: Reason | None = None,
) -> Accepted:
    return _pause(gateway.suspend, AuditAction.SUSPEND, instance_id, caller, audit, body)


@router.post(
    "/runs/{instanceId}/resume",
    status_code=HTTPStatus.ACCEPTED,
    summary="Resume a suspended run",
    responses=error_responses(404, 409, 422),
)
def resume_run(
    instance_id: RunId,
    gateway: GatewayDep,
    caller: Operator,
    strict: Annotated[None, Depends(strict_body(Reason))],
    audit: AuditDep,
    body: Reason | None = None,
) -> Accepted:
    return _pause(gateway.resume, AuditAction.RESUME, instance_id, caller, audit, body)


def _pause(
    call: Callable[[str, str | None], None],
    action: AuditAction,
    instance_id: str,
    caller: Identity,
    audit: AuditTrail,
    body: Reason | None,
) -> Accepted:
    """Suspend or resume (`call`), with the reason in the history and the audit trail."""
    reason = body.reason if body else None
    call(instance_id, reason)
    audit.record(caller, action, instance_id, reason=reason)
    return Accepted(instance_id=instance_id)


@router.post(
    "/runs/{instanceId}/terminate",
    status_code=HTTPStatus.ACCEPTED,
    summary="Terminate a run (and its child workflows): Dapr's raw operation, no compensation",
    description="Stops the run where it is, as `dapr workflow terminate` does: nothing it "
    "did is undone (a saga's reservation and charge stay). To stop an order with "
    "compensation, cancel it: `POST /v1/orders/{orderId}/cancel`.",
    responses=error_responses(400, 404, 413, 422),
)
def terminate_run(
    instance_id: RunId,
    gateway: GatewayDep,
    caller: Operator,
    strict: Annotated[None, Depends(strict_body(Terminate))],
    audit: AuditDep,
    body: Terminate | None = None,
) -> Accepted:
    gateway.terminate(instance_id, body.output if body else None)
    audit.record(caller, AuditAction.TERMINATE, instance_id, reason=body.reason if body else None)
    return Accepted(instance_id=instance_id)


@router.post(
    "/runs/{instanceId}/rerun",
    status_code=HTTPStatus.CREATED,
    summary="Start a new run replaying a finished one up to an event",
    description="As `dapr workflow rerun`: the new run replays the history before the "
    "event (a scheduled activity) and goes on from there; the source run is left as it is.",
    responses=error_responses(400, 404, 409, 413, 422),
)
def rerun_run(
    instance_id: RunId,
    gateway: GatewayDep,
    response: Response,
    caller: Operator,
    strict: Annotated[None, Depends(strict_body(Rerun))],
    audit: AuditDep,
    body: Rerun | None = None,
) -> RunStarted:
    request = body or Rerun()
    new_id = gateway.rerun(instance_id, request)
    audit.record(
        caller, AuditAction.RERUN, instance_id, newInstanceId=new_id, eventId=request.event_id
    )
    return _started(new_id, response)


@router.delete(
    "/runs/{instanceId}",
    summary="Purge a finished run (and its child workflows)",
    responses=error_responses(404, 409, 422, 501),
)
def purge_run(
    instance_id: RunId,
    gateway: GatewayDep,
    caller: Operator,
    audit: AuditDep,
    force: Annotated[
        bool,
        Query(
            description="Purge whatever the run's state, outside the workflow state machine "
            "(as `dapr workflow purge --force`); only for a run no worker is processing."
        ),
    ] = False,
) -> Purged:
    gateway.purge(instance_id, force=force)
    audit.record(caller, AuditAction.PURGE, instance_id, force=force)
    return Purged(purged=1, instance_ids=[instance_id])
