"""`kill -9` of the sidecar and of the worker mid-flight loses no acknowledged work."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import dapr.ext.workflow as wf
import pytest

from testkit.polling import wait_until
from testkit.process import ManagedProcess
from testkit.sidecar import SidecarProcess
from tests.sidecar.crash_worker import STEPS

WORKFLOWS = 100


@pytest.fixture
def worker(sidecar: SidecarProcess, tmp_path: Path) -> Iterator[ManagedProcess]:
    """The workflow app (`tests.sidecar.crash_worker`) as its own process, to `kill -9`."""
    process = ManagedProcess(
        "crash worker",
        (sys.executable, "-m", "tests.sidecar.crash_worker", str(sidecar.grpc_port)),
        tmp_path / "worker.log",
    ).start()
    yield process
    process.stop(timeout=15)


def _completed(client: wf.DaprWorkflowClient, ids: list[str]) -> int:
    done = 0
    for instance_id in ids:
        state = client.get_workflow_state(instance_id, fetch_payloads=False)
        if state is not None and state.runtime_status == wf.WorkflowStatus.COMPLETED:
            done += 1
    return done


def test_in_flight_workflows_complete_after_sidecar_and_worker_are_killed(
    sidecar: SidecarProcess, worker: ManagedProcess, client: wf.DaprWorkflowClient
) -> None:
    ids = [
        client.schedule_new_workflow("crash_chain", input=n, instance_id=f"crash-{n}")
        for n in range(WORKFLOWS)
    ]

    wait_until(lambda: _completed(client, ids) >= 5, timeout=60, what="first completions")
    sidecar.kill()
    sidecar.start()

    before_worker_kill = _completed(client, ids)
    assert before_worker_kill < WORKFLOWS, "the crash must happen mid-flight"
    wait_until(
        lambda: _completed(client, ids) > before_worker_kill,
        timeout=60,
        what="progress after the sidecar restart (the worker reconnects by itself)",
    )
    worker.kill()
    assert _completed(client, ids) < WORKFLOWS, "the worker crash must happen mid-flight"
    worker.start()

    for n, instance_id in enumerate(ids):
        state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=120)
        assert state is not None
        assert state.runtime_status == wf.WorkflowStatus.COMPLETED, sidecar.logs()
        assert state.serialized_output == str(n + STEPS)
