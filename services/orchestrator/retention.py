"""Retention of finished runs: every `RUN_RETENTION_INTERVAL`, the runs that finished
(completed, failed or terminated) longer ago than `RUN_RETENTION` are purged, their
children with them, so the workflow store holds the live runs and a window of recent ones
rather than every run since the platform started.

Neither daprd nor the embedded sidecar purges a finished run on its own (Dapr keeps a
workflow's state until someone purges it: `dapr workflow purge`), so the orchestrator does,
through the same gateway as `POST /v1/runs/purge`: it works on either runtime. A run's end
is its last update, which is when it became terminal. A sweep that fails (the sidecar is
restarting) is logged and tried again at the next interval; the services' own records
(reservations, charges, shipments) and the audit trail are not runs and are kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc

from services.contracts.topology import TERMINAL_RUNTIME_STATUSES
from services.orchestrator.api.workflow_gateway import WorkflowGateway

log = logging.getLogger("services.orchestrator.retention")


class RunRetention:
    """Purges the runs that finished more than `keep` ago, every `every`."""

    def __init__(
        self,
        gateway: WorkflowGateway,
        keep: timedelta,
        every: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.gateway = gateway
        self.keep = keep
        self.every = every
        self.clock = clock
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-retention", daemon=True)

    def sweep(self) -> list[str]:
        """Purges every run that finished before now minus `keep`; their ids."""
        cutoff = self.clock() - self.keep
        purged = self.gateway.purge_where(
            TERMINAL_RUNTIME_STATUSES, None, force=False, finished_before=cutoff
        )
        if purged:
            log.info(
                "finished runs purged",
                extra={"purged": len(purged), "finished_before": cutoff.isoformat()},
            )
        return purged

    def start(self) -> None:
        log.info(
            "run retention on",
            extra={"keep_s": self.keep.total_seconds(), "every_s": self.every.total_seconds()},
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stopping.wait(self.every.total_seconds()):
            try:
                self.sweep()
            except grpc.RpcError as error:
                log.warning("retention sweep failed; next one later", extra={"error": str(error)})
