from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import dapr.ext.workflow as wf
import pytest

from testkit.sidecar import SidecarProcess


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[SidecarProcess]:
    """A fresh embedded sidecar process with its own database."""
    process = SidecarProcess(data_dir=tmp_path / "sidecar").start()
    yield process
    process.stop()


@pytest.fixture
def make_runtime(
    sidecar: SidecarProcess,
) -> Iterator[Callable[..., wf.WorkflowRuntime]]:
    """Builds a real `WorkflowRuntime` connected to the sidecar; call `.start()` on it."""
    runtimes: list[wf.WorkflowRuntime] = []

    def build(**kwargs: object) -> wf.WorkflowRuntime:
        runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(sidecar.grpc_port), **kwargs)  # type: ignore[arg-type]
        runtimes.append(runtime)
        return runtime

    yield build
    for runtime in runtimes:
        # A runtime that never started cannot shut down cleanly; nothing is left to stop.
        with contextlib.suppress(Exception):
            runtime.shutdown()


@pytest.fixture
def client(sidecar: SidecarProcess) -> Iterator[wf.DaprWorkflowClient]:
    workflow_client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(sidecar.grpc_port))
    yield workflow_client
    workflow_client.close()
