"""The peer's half of `make bench`: Microsoft's durabletask SDK on its in-memory backend.

Runs only under `.venv-peer/bin/python -m bench.peer_workloads` (its protos clash with the dapr
SDK's). `serve` is the engine in its own process, as our sidecar is; `measure` is the worker and
client, printing the figures as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from importlib.metadata import version
from typing import Any

from durabletask import client, task, worker
from durabletask.testing import create_test_backend

from bench.workloads import Orchestrator, define_workflows, noop, run_all


class PeerEngine:
    def __init__(self, task_client: Any) -> None:
        self._client = task_client

    def schedule(self, workflow: Orchestrator) -> str:
        return str(self._client.schedule_new_orchestration(workflow))

    def wait(self, instance_id: str, timeout_s: float) -> str | None:
        state = self._client.wait_for_orchestration_completion(instance_id, timeout=timeout_s)
        return None if state is None else str(state.runtime_status.name)


def serve(port: int) -> None:
    """The documented way to start the backend; it runs until this process is terminated."""
    create_test_backend(port=port)
    threading.Event().wait()


def measure(port: int, backend_pid: int) -> None:
    address = f"localhost:{port}"
    # Named loggers follow the root level (WARNING), as the dapr SDK's do: without this the
    # peer would log every orchestration turn at INFO and pay for it.
    work = worker.TaskHubGrpcWorker(
        host_address=address, logger=logging.getLogger("durabletask-worker")
    )
    flows = define_workflows(task.when_all)
    work.add_orchestrator(flows.chain)
    work.add_orchestrator(flows.fan_out)
    work.add_activity(noop)
    work.start()
    task_client = client.TaskHubGrpcClient(
        host_address=address, logger=logging.getLogger("durabletask-client")
    )
    try:
        figures = run_all(PeerEngine(task_client), flows, backend_pid)
    finally:
        task_client.close()
        work.stop()
    engine = f"durabletask {version('durabletask')} in-memory backend"
    print(json.dumps({"engine": engine, **figures}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer_workloads")
    parser.add_argument("mode", choices=["serve", "measure"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend-pid", type=int, help="measure: the serving process")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port)
    elif args.backend_pid is None:
        parser.error("measure needs --backend-pid")
    else:
        measure(args.port, args.backend_pid)


if __name__ == "__main__":
    main()
