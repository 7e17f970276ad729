"""The operator's verbs on one WorkflowRun: start or adopt, suspend or resume, terminate, raise
events, sync, clean up on delete, expire after the TTL.

Each verb calls the management API through `OrchestratorClient`, turns the answer into a status
patch with the pure builders of `status`, and turns the client's typed errors into kopf's:
- the orchestrator cannot be reached (or refuses the token): `Synced=False` and a
  `kopf.TemporaryError` whose delay doubles per retry: kopf retries, the resource never fails;
- the spec can never work (unknown workflow, input refused, instance id owned by another
  workflow): `Succeeded=False` with the reason, a Warning Event, and a `kopf.PermanentError`:
  kopf stops retrying, nothing crash-loops.

The handlers (`handlers.py`) build a `RunContext` from kopf's arguments and call one verb.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf

from workflowrun_operator import kube_api
from workflowrun_operator.client import (
    AlreadyExists,
    Conflict,
    Invalid,
    NotFound,
    OrchestratorClient,
    RunState,
    Unauthorized,
    Unavailable,
    UnknownWorkflow,
)
from workflowrun_operator.crd import WorkflowRunSpec, pending_events
from workflowrun_operator.instance_id import instance_id_for
from workflowrun_operator.settings import OperatorSettings
from workflowrun_operator.status import (
    TERMINAL_PHASES,
    ConditionType,
    Phase,
    Reason,
    condition_of,
    is_terminal,
    phase_for,
    seconds_until_expiry,
    status_for_rejected,
    status_for_run,
    status_for_unavailable,
)

# Runs whose Succeeded condition says they could never start: nothing to clean up, ever.
_NEVER_STARTED = frozenset({Reason.INVALID_SPEC, Reason.UNKNOWN_WORKFLOW, Reason.INSTANCE_CONFLICT})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunContext:
    """One WorkflowRun as a handler sees it, and where its status changes go."""

    namespace: str
    name: str
    uid: str | None
    generation: int | None
    spec: WorkflowRunSpec
    status: dict[str, Any]  # the status as it will be once `patch` is applied
    patch: kopf.Patch
    body: kopf.Body
    logger: kopf.Logger
    client: OrchestratorClient
    settings: OperatorSettings
    retry: int = 0
    now: Callable[[], datetime] = field(default=utc_now)

    @property
    def instance_id(self) -> str:
        recorded = self.status.get("instanceId")
        return (
            str(recorded)
            if recorded
            else instance_id_for(self.namespace, self.name, self.spec.instance_id)
        )

    @property
    def log_extra(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "workflow": self.spec.workflow_name,
            "workflowrun": f"{self.namespace}/{self.name}",
        }

    def update_status(self, changes: Mapping[str, Any]) -> None:
        for key, value in changes.items():
            self.patch.status[key] = value
            if value is None:
                self.status.pop(key, None)
            else:
                self.status[key] = value

    def note(self, reason: str, message: str, *, warning: bool = False) -> None:
        """A fact worth knowing: a JSON log line with the instance, and a Kubernetes Event
        (`kubectl describe workflowrun` shows it)."""
        if warning:
            self.logger.warning(message, extra={**self.log_extra, "reason": reason})
            kopf.warn(self.body, reason=reason, message=message)
        else:
            self.logger.info(message, extra={**self.log_extra, "reason": reason})
            kopf.info(self.body, reason=reason, message=message)

    def mirror(self, run: RunState) -> None:
        was_finished = is_terminal(self.status)
        self.update_status(
            status_for_run(run, previous=self.status, generation=self.generation, now=self.now())
        )
        if is_terminal(self.status) and not was_finished:
            succeeded = condition_of(self.status, ConditionType.SUCCEEDED) or {}
            self.note(
                str(succeeded.get("reason") or self.status.get("phase")),
                f"workflow instance {run.runtime_status.lower()}",
                warning=self.status.get("phase") != Phase.SUCCEEDED,
            )

    def reject(self, reason: Reason, message: str) -> kopf.PermanentError:
        """Marks the run as never able to start; the caller raises the returned error."""
        self.update_status(
            status_for_rejected(
                self.instance_id,
                reason,
                message,
                previous=self.status,
                generation=self.generation,
                now=self.now(),
            )
        )
        self.note(str(reason), message, warning=True)
        return kopf.PermanentError(f"{reason}: {message}")


@asynccontextmanager
async def orchestrator_errors(ctx: RunContext) -> AsyncIterator[None]:
    """Unreachable orchestrator -> Synced=False and a retry with backoff."""
    try:
        yield
    except (Unavailable, Unauthorized) as error:
        was_synced = _is_synced(ctx.status)
        ctx.update_status(
            status_for_unavailable(
                error.message,
                previous=ctx.status,
                generation=ctx.generation,
                now=ctx.now(),
                unauthorized=isinstance(error, Unauthorized),
            )
        )
        if was_synced:
            reason = (
                Reason.ORCHESTRATOR_UNAUTHORIZED
                if isinstance(error, Unauthorized)
                else Reason.ORCHESTRATOR_UNAVAILABLE
            )
            ctx.note(str(reason), f"orchestrator unavailable: {error.message}", warning=True)
        raise kopf.TemporaryError(
            error.message, delay=ctx.settings.retry_delay(ctx.retry)
        ) from error


def _is_synced(status: Mapping[str, Any]) -> bool:
    synced = condition_of(status, ConditionType.SYNCED)
    return synced is None or synced.get("status") == "True"


# -- create / resume ---------------------------------------------------------------------


async def start_or_adopt(ctx: RunContext) -> None:
    """Makes sure the instance exists (starting it, or adopting the one already there), then
    applies what the spec asks beyond that: suspend, terminate, events."""
    if is_terminal(ctx.status):
        return  # finished before the operator (re)started: nothing to do, nothing to poll
    async with orchestrator_errors(ctx):
        run = await _find_or_start(ctx)
        ctx.mirror(run)
        await _apply_suspend(ctx, run, changed=False)
        await _apply_terminate(ctx)
        await _raise_events(ctx)
        await _sync(ctx)


async def _find_or_start(ctx: RunContext) -> RunState:
    instance_id = ctx.instance_id
    # Look first: the engine reuses the id of a finished instance, so a blind start after an
    # operator restart would run a completed workflow a second time.
    try:
        run = await ctx.client.get_run(instance_id)
    except NotFound:
        run = None
    if run is None:
        try:
            await ctx.client.start_run(ctx.spec.workflow_name, ctx.spec.input, instance_id)
            ctx.note("Started", "workflow instance started")
        except AlreadyExists:
            ctx.note("Adopted", "workflow instance already started: adopted")
        except UnknownWorkflow as error:
            raise ctx.reject(Reason.UNKNOWN_WORKFLOW, error.message) from error
        except Invalid as error:
            raise ctx.reject(Reason.INVALID_SPEC, error.message) from error
        run = await ctx.client.get_run(instance_id)
    else:
        ctx.note("Adopted", "workflow instance exists: adopted")
    if run.name and run.name != ctx.spec.workflow_name:
        raise ctx.reject(
            Reason.INSTANCE_CONFLICT,
            f"instance {instance_id} runs workflow {run.name}, not {ctx.spec.workflow_name}",
        )
    return run


# -- spec changes ------------------------------------------------------------------------


def _can_act(ctx: RunContext) -> bool:
    """Spec changes reach the instance once it started, and until it finished."""
    return bool(ctx.status.get("instanceId")) and not is_terminal(ctx.status)


async def suspend_or_resume(ctx: RunContext) -> None:
    if not _can_act(ctx):
        return
    async with orchestrator_errors(ctx):
        run = await ctx.client.get_run(ctx.instance_id)
        await _apply_suspend(ctx, run, changed=True)
        await _sync(ctx)


async def _apply_suspend(ctx: RunContext, run: RunState, *, changed: bool) -> None:
    phase = phase_for(run.runtime_status)
    if phase in TERMINAL_PHASES:
        return
    try:
        if ctx.spec.suspend and phase is not Phase.SUSPENDED:
            await ctx.client.suspend(ctx.instance_id, "WorkflowRun spec.suspend is true")
            ctx.note("Suspended", "workflow instance suspended")
        elif not ctx.spec.suspend and changed and phase is Phase.SUSPENDED:
            await ctx.client.resume(ctx.instance_id, "WorkflowRun spec.suspend is false")
            ctx.note("Resumed", "workflow instance resumed")
    except Conflict:
        pass  # it finished meanwhile; the sync below shows it


async def terminate(ctx: RunContext) -> None:
    if not _can_act(ctx):
        return
    async with orchestrator_errors(ctx):
        await _apply_terminate(ctx)
        await _sync(ctx)


async def _apply_terminate(ctx: RunContext) -> None:
    reason = ctx.spec.terminate_reason
    if reason is None or is_terminal(ctx.status):
        return
    try:
        await ctx.client.terminate(ctx.instance_id, {"terminated": True, "reason": reason})
        ctx.note("Terminating", f"workflow instance terminating: {reason}")
    except (NotFound, Conflict):
        pass  # gone or finished meanwhile; the sync below shows it


async def raise_events(ctx: RunContext) -> None:
    if not ctx.status.get("instanceId"):
        return  # the create handler raises them right after the start
    async with orchestrator_errors(ctx):
        await _raise_events(ctx)
        await _sync(ctx)


async def _raise_events(ctx: RunContext) -> None:
    """Raises each event of `spec.events` not in `status.processedEvents`, recording each one as
    soon as it is accepted: an error halfway keeps the ones already raised (kopf applies the
    patch of a failed handler too), so a retry raises only the rest."""
    processed: list[str] = list(ctx.status.get("processedEvents") or ())
    for event in pending_events(ctx.spec.events, processed):
        try:
            await ctx.client.raise_event(ctx.instance_id, event.name, event.data)
            ctx.note("EventRaised", f"event {event.id} ({event.name}) raised")
        except (Conflict, NotFound) as error:
            # A finished (or vanished) run takes no more events; retrying would never end.
            ctx.note(
                "EventNotDelivered",
                f"event {event.id} ({event.name}) not raised: {error.message}",
                warning=True,
            )
        processed.append(event.id)
        ctx.update_status({"processedEvents": list(processed)})


# -- status ------------------------------------------------------------------------------


async def sync(ctx: RunContext) -> None:
    """The periodic sync: mirrors the instance while it is not finished. It never raises
    events: kopf runs timers beside the change handlers, and two raisers could both see an
    event as pending. The events handler retries by itself until each event is raised."""
    if not ctx.status.get("instanceId") or is_terminal(ctx.status):
        return
    async with orchestrator_errors(ctx):
        await _sync(ctx)


async def _sync(ctx: RunContext) -> None:
    try:
        run = await ctx.client.get_run(ctx.instance_id)
    except NotFound as error:
        raise ctx.reject(Reason.INSTANCE_NOT_FOUND, error.message) from error
    ctx.mirror(run)


# -- delete ------------------------------------------------------------------------------


async def clean_up(ctx: RunContext) -> None:
    """Deletion: terminate the instance if it still runs, purge it if `purgeOnDelete`.
    An instance that is not there (never started, or purged already) is done."""
    succeeded = condition_of(ctx.status, ConditionType.SUCCEEDED) or {}
    if succeeded.get("reason") in _NEVER_STARTED:
        return
    instance_id = ctx.instance_id
    async with orchestrator_errors(ctx):
        try:
            run = await ctx.client.get_run(instance_id)
            if run.name and run.name != ctx.spec.workflow_name:
                return  # not ours: leave another workflow's instance alone
            if phase_for(run.runtime_status) not in TERMINAL_PHASES:
                await ctx.client.terminate(
                    instance_id, {"terminated": True, "reason": "WorkflowRun deleted"}
                )
                ctx.note("Terminating", "workflow instance terminating: the WorkflowRun is deleted")
            if ctx.spec.purge_on_delete:
                await ctx.client.purge(instance_id)
                ctx.note("Purged", "workflow instance purged")
        except NotFound:
            return
        except Conflict as error:
            # Termination is asynchronous: the purge waits until the instance has stopped.
            raise kopf.TemporaryError(
                f"waiting for the instance to stop before purging: {error.message}",
                delay=min(1.0, ctx.settings.retry_delay(ctx.retry)),
            ) from error


# -- TTL ---------------------------------------------------------------------------------


async def expire(
    ctx: RunContext,
    *,
    resource: kopf.Resource,
    kopf_settings: kopf.OperatorSettings,
    stopped: kopf.DaemonStopped,
) -> None:
    """Deletes the WorkflowRun `ttlSecondsAfterFinished` after it finished."""
    remaining = seconds_until_expiry(ctx.status, ctx.spec.ttl_seconds_after_finished, now=ctx.now())
    if remaining is None:
        return
    if remaining > 0:
        await stopped.wait(remaining)
        if stopped:
            return
    deleted = await kube_api.delete_object(
        resource,
        ctx.namespace,
        ctx.name,
        uid=ctx.uid,
        settings=kopf_settings,
        logger=ctx.logger,
    )
    if deleted:
        ctx.note("Expired", "ttlSecondsAfterFinished elapsed: WorkflowRun deleted")
