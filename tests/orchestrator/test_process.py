"""`python -m services.orchestrator` as a process beside its sidecar: it connects, serves
the subscriptions and the API, runs a saga placed on `orders` with the settings from its
environment, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import pytest
from dapr.clients import DaprClient

from services.common.messaging import publish
from services.contracts.names import EventType, Topic
from services.contracts.topology import DEAD_LETTER_TOPICS
from services.orchestrator.workflow_io import SagaInput
from testkit.apps import app_process
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ROOT
from testkit.sidecar import SidecarProcess, wait_topics
from tests.orchestrator.harness import CONFIG, order


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[SidecarProcess]:
    process = SidecarProcess(
        data_dir=tmp_path / "data",
        app_id="orchestrator",
        label="orchestrator",
        extra_args=["--resources-path", str(ROOT / "components"), "--app-port", str(free_port())],
    )
    yield process.start()
    process.stop()


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def test_process_serves_subscriptions_and_api_and_stops_on_sigterm(
    sidecar: SidecarProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_port = int(sidecar.extra_args[-1])
    api_port = free_port()
    log_path = tmp_path / "orchestrator.log"
    process = app_process(
        "services.orchestrator",
        sidecar,
        log_path,
        app_port=app_port,
        env={
            "API_PORT": str(api_port),
            "STEP_TIMEOUT_SECONDS": "1",
            "COMPENSATION_ATTEMPTS": "1",
            "COMPENSATION_TIMEOUT_SECONDS": "1",
        },
    ).start(wait=False)
    try:
        # Its subscriptions, and the dead-letter inbox on every dead-letter topic.
        wait_topics(sidecar, {"orders", "saga-replies", "approvals", *DEAD_LETTER_TOPICS})
        wait_until(lambda: _get(f"http://127.0.0.1:{api_port}/healthz"), what="the API")

        # Placed through pub/sub. No service answers here: the saga's first step times
        # out (1 s, from the process's environment) and its compensation goes unanswered.
        monkeypatch.setenv("DAPR_HTTP_PORT", str(sidecar.http_port))
        with DaprClient(address=sidecar.address) as dapr:
            publish(dapr, Topic.ORDERS, EventType.ORDER_PLACED, order("proc-1"))
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(sidecar.grpc_port))
        try:
            wait_until(lambda: client.get_workflow_state("order-proc-1"), what="the saga")
            state = client.wait_for_workflow_completion("order-proc-1", timeout_in_seconds=60)
        finally:
            client.close()
        assert state is not None
        assert state.runtime_status == wf.WorkflowStatus.COMPLETED
        output = json.loads(state.serialized_output)
        assert output["outcome"] == "compensation_failed"
        assert output["failedStep"] == "reserve"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    messages = [line.get("msg") for line in lines]
    assert "stopped" in messages, log_path.read_text()[-3000:]
    sent = [line for line in lines if line.get("msg") == "command sent"]
    assert sent
    assert all(line["saga_id"] == "order-proc-1" for line in sent)
    assert {line["app_id"] for line in lines} == {"orchestrator"}
    assert str(EventType.INVENTORY_RESERVE) in {line.get("command") for line in sent}


def test_process_purges_finished_runs_past_their_retention(
    sidecar: SidecarProcess, tmp_path: Path
) -> None:
    """RUN_RETENTION from the environment: a run that ended is purged by the process itself
    once it is older than that, while a running one stays."""
    process = app_process(
        "services.orchestrator",
        sidecar,
        tmp_path / "orchestrator.log",
        app_port=int(sidecar.extra_args[-1]),
        env={"API_PORT": "0", "RUN_RETENTION": "1s", "RUN_RETENTION_INTERVAL": "200ms"},
    ).start(wait=False)
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(sidecar.grpc_port))
    try:
        wait_topics(sidecar, {"orders", "saga-replies", "approvals", *DEAD_LETTER_TOPICS})
        running = client.schedule_new_workflow("order_saga", input=_saga_input("ret-run"))
        ended = client.schedule_new_workflow("order_saga", input=_saga_input("ret-end"))
        client.terminate_workflow(ended)
        client.wait_for_workflow_completion(ended, timeout_in_seconds=30)

        wait_until(lambda: client.get_workflow_state(ended) is None, what="the purge")
        state = client.get_workflow_state(running)
        assert state is not None
        assert state.runtime_status == wf.WorkflowStatus.RUNNING
    finally:
        client.close()
        process.kill()
    purges = [line for line in process.log_lines() if line.get("msg") == "finished runs purged"]
    assert purges, process.logs()


def _saga_input(order_id: str) -> dict[str, Any]:
    """A saga's input with a step timeout long enough that it runs through the test."""
    config = CONFIG.model_copy(update={"step_timeout_seconds": 120})
    return SagaInput(order=order(order_id), config=config).to_data()
