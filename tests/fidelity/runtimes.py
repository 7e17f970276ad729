"""The runtime under a fidelity test, seen only through the addresses an app is given.

A fidelity test holds the embedded sidecar to daprd's behaviour through Dapr's own SDKs, so
it must pass unchanged on daprd: it reaches the runtime only through `AppRuntime` (an app
id and the gRPC and HTTP ports its sidecar serves), never through the sidecar process.
`EMBEDDED` starts `python -m sidecar`; a daprd tier plugs in as another entry of
`STARTERS`, starting daprd with the same app ids (and what daprd shares: placement,
scheduler, a state store for actors).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf

from testkit.sidecar import HOST, SidecarProcess


@dataclass(frozen=True)
class AppRuntime:
    """The sidecar of one app, as its app knows it."""

    app_id: str
    grpc_port: int
    http_port: int
    host: str = HOST

    @property
    def grpc_address(self) -> str:
        return f"{self.host}:{self.grpc_port}"


WAIT = 30


@dataclass
class Sdk:
    """The Python SDK's workers and clients of a test's apps, closed after the test."""

    workers: list[wf.WorkflowRuntime] = field(default_factory=list)
    clients: list[wf.DaprWorkflowClient] = field(default_factory=list)

    def worker(self, app: AppRuntime) -> wf.WorkflowRuntime:
        """A worker of `app`; call `.start()` once its code is registered."""
        self.workers.append(wf.WorkflowRuntime(host=app.host, port=str(app.grpc_port)))
        return self.workers[-1]

    def client(self, app: AppRuntime) -> wf.DaprWorkflowClient:
        self.clients.append(wf.DaprWorkflowClient(host=app.host, port=str(app.grpc_port)))
        return self.clients[-1]

    def close(self) -> None:
        for worker in self.workers:
            # A worker that never started, or was shut down already, has nothing to stop.
            with contextlib.suppress(Exception):
                worker.shutdown()
        for client in self.clients:
            client.close()


def output_of(client: wf.DaprWorkflowClient, instance_id: str, app_id: str | None = None) -> Any:
    """The output of a workflow that completes (its failure, when it does not)."""
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=WAIT, app_id=app_id)
    assert state is not None, f"workflow {instance_id} vanished"
    failure = state.failure_details
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED, failure and failure.message
    return json.loads(state.serialized_output)


@dataclass
class EmbeddedRuntimes:
    """Embedded sidecars for the apps of one test. They share a data folder, as the
    sidecars of a Multi-App Run do, so they find each other for cross-app workflows."""

    root: Path
    sidecars: list[SidecarProcess] = field(default_factory=list)

    def start(self, app_id: str) -> AppRuntime:
        sidecar = SidecarProcess(self.root / "data", app_id=app_id).start()
        self.sidecars.append(sidecar)
        return AppRuntime(app_id, sidecar.grpc_port, sidecar.http_port)

    def close(self) -> None:
        for sidecar in self.sidecars:
            sidecar.stop()


@contextlib.contextmanager
def embedded(root: Path) -> Iterator[Callable[[str], AppRuntime]]:
    runtimes = EmbeddedRuntimes(root)
    try:
        yield runtimes.start
    finally:
        runtimes.close()


STARTERS = {"embedded": embedded}
