"""Gauges read from the workflow store when Prometheus scrapes: runs in flight, sagas per
step and how long the oldest has waited there, pending approvals and the nearest deadline.

They are states, not events, so they are read from the one source of truth (the runtime)
rather than counted: right after a restart, whichever replica answers, and for a saga
that stopped moving (the case the `SagaStuck` alert exists for, which no event reports).
Every replica reports the same global values: aggregate them with `max`, not `sum`.

Cost: the store has no server-side status filter, so a sample lists every instance id;
a finished run never changes again, so its id is remembered and only unfinished runs are
read (with payloads, for their custom status). Samples are reused for `min_interval`
seconds, so several scrapers cost one sample.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.contracts.names import WorkflowName
from services.contracts.topology import TERMINAL_RUNTIME_STATUSES
from services.orchestrator.api.schemas import as_utc, status_name
from services.orchestrator.api.workflow_gateway import WorkflowGateway
from services.orchestrator.workflow_io import SagaConfig
from services.orchestrator.workflows.saga import status_timeouts

log = logging.getLogger("services.orchestrator.api.metrics")

# A saga with no custom status yet (scheduled, not started by a worker).
NOT_STARTED = "pending"


class RunGauges(Collector):
    def __init__(
        self,
        gateway: WorkflowGateway,
        config: SagaConfig,
        min_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.gateway = gateway
        self.timeouts = status_timeouts(config)
        self.min_interval = min_interval
        self.clock = clock
        self._finished: set[str] = set()
        self._lock = threading.Lock()
        self._sampled_at = float("-inf")
        self._families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = self.clock()
            if now - self._sampled_at >= self.min_interval:
                try:
                    self._families = self._sample(now)
                    self._sampled_at = now
                except Exception:  # the sidecar is away: the other metrics still answer
                    log.warning("run gauges not sampled", exc_info=True)
                    self._families = []
            families = list(self._families)
        yield from families

    def _unfinished(self) -> list[Any]:
        """The states (with payloads) of every run not finished, remembering finished ids."""
        listed: set[str] = set()
        unfinished = []
        for instance_id in self.gateway.all_ids():
            listed.add(instance_id)
            if instance_id in self._finished:
                continue
            state = self.gateway.find(instance_id, payloads=False)
            if state is None:
                continue
            if status_name(state) in TERMINAL_RUNTIME_STATUSES:
                self._finished.add(instance_id)
                continue
            full = self.gateway.find(instance_id, payloads=True)
            if full is not None:
                unfinished.append(full)
        self._finished &= listed  # a purged id may be used again
        return unfinished

    def _sample(self, now: float) -> list[Metric]:
        started = time.monotonic()
        active: dict[str, int] = dict.fromkeys(WorkflowName, 0)
        running: dict[str, int] = dict.fromkeys(self.timeouts, 0)
        oldest: dict[str, float] = dict.fromkeys(self.timeouts, 0.0)
        deadlines: list[float] = []
        for state in self._unfinished():
            name = str(state.name)
            active[name] = active.get(name, 0) + 1
            status = _custom_status(state)
            if name == WorkflowName.ORDER_SAGA:
                step = str(status.get("step") or NOT_STARTED)
                age = max(0.0, now - as_utc(state.last_updated_at).timestamp())
                running[step] = running.get(step, 0) + 1
                oldest[step] = max(oldest.get(step, 0.0), age)
            elif name == WorkflowName.APPROVAL and (deadline := _timestamp(status)) is not None:
                deadlines.append(deadline)

        families = [
            _labelled(
                "saga_runs_active", "Workflow runs not finished, by workflow.", "workflow", active
            ),
            _labelled(
                "saga_running", "Running order sagas, by the step they are in.", "step", running
            ),
            _labelled(
                "saga_running_oldest_step_age_seconds",
                "How long the oldest running saga in each step has not moved (0: none there).",
                "step",
                oldest,
            ),
            _labelled(
                "saga_step_timeout_seconds",
                "The longest a saga waits in each step before its own timer moves it on.",
                "step",
                self.timeouts,
            ),
        ]
        families.append(
            GaugeMetricFamily(
                "saga_approvals_pending",
                "Approvals waiting for a person's decision.",
                value=active[WorkflowName.APPROVAL],
            )
        )
        if deadlines:
            families.append(
                GaugeMetricFamily(
                    "saga_approval_next_deadline_timestamp_seconds",
                    "When the pending approval nearest to its deadline expires (Unix time).",
                    value=min(deadlines),
                )
            )
        families.append(
            GaugeMetricFamily(
                "saga_runs_sample_duration_seconds",
                "How long reading the runs for these gauges took.",
                value=time.monotonic() - started,
            )
        )
        return families


def _labelled(name: str, documentation: str, label: str, values: Mapping[str, float]) -> Metric:
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        gauge.add_metric([key], value)
    return gauge


def _custom_status(state: Any) -> dict[str, Any]:
    try:
        status = json.loads(state.serialized_custom_status or "{}")
    except ValueError:
        return {}
    return status if isinstance(status, dict) else {}


def _timestamp(status: dict[str, Any]) -> float | None:
    """An approval's `expiresAt` as Unix time; None when it has none (not started yet)."""
    try:
        return as_utc(datetime.fromisoformat(str(status["expiresAt"]))).timestamp()
    except (KeyError, ValueError):
        return None
