"""kopf handlers of WorkflowRun: each one only turns a Kubernetes event into a `run_actions` verb.

| event | verb |
|---|---|
| created; operator (re)started and finds the run | `start_or_adopt` |
| `spec.suspend` changed | `suspend_or_resume` |
| `spec.terminate` set | `terminate` |
| `spec.events` changed | `raise_events` (the ones not in `status.processedEvents`) |
| every `SYNC_INTERVAL_SECONDS` while not finished | `sync` (the timer stops once finished) |
| finished, with `ttlSecondsAfterFinished` | `expire` (a daemon sleeping until due) |
| deleted (finalizer) | `clean_up`: terminate if running, purge if `purgeOnDelete` |

Run with `python -m workflowrun_operator` (or `kopf run -m workflowrun_operator.handlers`).
"""

from __future__ import annotations

from typing import Any

import kopf

from workflowrun_operator import run_actions
from workflowrun_operator.client import OrchestratorClient
from workflowrun_operator.crd import GROUP, PLURAL, VERSION, WorkflowRunSpec
from workflowrun_operator.log_format import adopt_platform_format
from workflowrun_operator.settings import OperatorSettings
from workflowrun_operator.status import is_terminal, seconds_until_expiry

# Read once at import: the timer's interval is fixed when the handlers are registered.
SETTINGS = OperatorSettings.from_env()

_ORCHESTRATOR = "orchestrator"
_KOPF_SETTINGS = "kopf_settings"


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    if SETTINGS.log_format == "json":
        adopt_platform_format("workflowrun-operator")
    # The finalizer makes deletion wait for the instance's clean-up.
    settings.persistence.finalizer = SETTINGS.finalizer
    # kopf's bookkeeping goes to annotations: the status schema is explicit, and the API
    # server prunes the `status.kopf` field kopf would otherwise write.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # The CRD is installed with the operator: no watching of CRDs or namespaces, hence no
    # cluster-wide read permissions for them (see operator/README.md, RBAC).
    settings.scanning.disabled = True
    settings.posting.reporting_component = "workflowrun-operator"
    memo[_ORCHESTRATOR] = OrchestratorClient(
        SETTINGS.orchestrator_url,
        credentials=SETTINGS.credentials(),
        timeout_seconds=SETTINGS.orchestrator_timeout_seconds,
    )
    memo[_KOPF_SETTINGS] = settings


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    client = memo.get(_ORCHESTRATOR)
    if isinstance(client, OrchestratorClient):
        await client.aclose()


def _context(
    *,
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: kopf.Logger,
    retry: int = 0,
) -> run_actions.RunContext:
    return run_actions.RunContext(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=meta.get("uid"),
        generation=meta.get("generation"),
        spec=WorkflowRunSpec.from_spec(spec),
        status=dict(status),
        patch=patch,
        body=body,
        logger=logger,
        client=memo[_ORCHESTRATOR],
        settings=SETTINGS,
        retry=retry,
    )


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
async def start(**kwargs: Any) -> None:
    await run_actions.start_or_adopt(_context(**_pick(kwargs)))


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec.suspend")
async def suspend_changed(**kwargs: Any) -> None:
    await run_actions.suspend_or_resume(_context(**_pick(kwargs)))


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec.terminate")
async def terminate_requested(**kwargs: Any) -> None:
    await run_actions.terminate(_context(**_pick(kwargs)))


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec.events")
async def events_changed(**kwargs: Any) -> None:
    await run_actions.raise_events(_context(**_pick(kwargs)))


def _not_finished(status: kopf.Status, **_: Any) -> bool:
    return not is_terminal(status)


@kopf.timer(GROUP, VERSION, PLURAL, interval=SETTINGS.sync_interval_seconds, when=_not_finished)
async def sync_status(**kwargs: Any) -> None:
    await run_actions.sync(_context(**_pick(kwargs)))


def _expires(spec: kopf.Spec, status: kopf.Status, **_: Any) -> bool:
    ttl = WorkflowRunSpec.from_spec(spec).ttl_seconds_after_finished
    return seconds_until_expiry(status, ttl, now=run_actions.utc_now()) is not None


@kopf.daemon(GROUP, VERSION, PLURAL, when=_expires, cancellation_timeout=5)
async def expire_after_ttl(
    resource: kopf.Resource, stopped: kopf.DaemonStopped, **kwargs: Any
) -> None:
    await run_actions.expire(
        _context(**_pick(kwargs)),
        resource=resource,
        kopf_settings=kwargs["memo"][_KOPF_SETTINGS],
        stopped=stopped,
    )


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def clean_up(**kwargs: Any) -> None:
    await run_actions.clean_up(_context(**_pick(kwargs)))


_CONTEXT_ARGS = ("body", "spec", "status", "meta", "patch", "memo", "logger", "retry")


def _pick(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {key: kwargs[key] for key in _CONTEXT_ARGS if key in kwargs}
