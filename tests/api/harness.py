"""The management API on real processes: a sidecar loaded with the platform's `components/`
(workflows, pub/sub and state), the real SDK clients, and small stand-in workflows
registered under the platform's workflow names.

Shared by `tests/api` and `tests/cli` through their conftests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import pytest
import uvicorn
from dapr.clients import DaprClient
from fastapi import FastAPI
from fastapi.testclient import TestClient

from foundation.tokens import LocalIssuer, local_issuer
from services.contracts.names import APPROVAL_DECISION_EVENT, WorkflowName
from services.orchestrator.api import ApiSettings, create_api
from services.orchestrator.api.identity import TokenVerifier
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.sidecar import SidecarProcess

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ROOT / "components"
WAIT = 30

# Customers whose stand-in saga behaves differently (the input is a validated SagaInput,
# so the order itself says what to do).
WAITING_CUSTOMER = "cust-wait"  # waits for the `finish` event before completing
FAILING_CUSTOMER = "cust-fail"  # its charge activity fails, so the run fails


def order(
    order_id: str = "o-1",
    customer: str = "cust-1",
    *,
    unit_price_cents: int = 1250,
    quantity: int = 2,
) -> dict[str, Any]:
    """An `OrderPlaced` as JSON."""
    return {
        "orderId": order_id,
        "customerId": customer,
        "items": [{"sku": "SKU-1", "quantity": quantity, "unitPriceCents": unit_price_cents}],
        "paymentToken": "tok_apiTestApiTestApiTest",
        "shippingAddress": {
            "line1": "1 Main Street",
            "city": "Springfield",
            "postalCode": "12345",
            "country": "US",
        },
    }


def approval_request(order_id: str, amount_cents: int = 250_000) -> dict[str, Any]:
    """An `ApprovalRequest` as JSON."""
    return {
        "orderId": order_id,
        "sagaId": f"order-{order_id}",
        "customerId": "cust-1",
        "amountCents": amount_cents,
        "currency": "USD",
        "timeoutSeconds": 3600,
    }


def register_stand_in_workflows(runtime: wf.WorkflowRuntime) -> None:
    """Minimal workflows under the platform's names, enough to drive every API route."""

    @runtime.activity(name="reserve_inventory")
    def reserve_inventory(ctx: wf.WorkflowActivityContext, order_id: str) -> dict[str, str]:
        return {"reservationId": f"res-{order_id}"}

    @runtime.activity(name="charge_payment")
    def charge_payment(ctx: wf.WorkflowActivityContext, order_id: str) -> None:
        raise RuntimeError(f"card declined for {order_id}")

    @runtime.workflow(name=WorkflowName.ORDER_SAGA.value)
    def order_saga(
        ctx: wf.DaprWorkflowContext, saga: dict[str, Any]
    ) -> Generator[Any, Any, dict[str, Any]]:
        placed = saga["order"]
        reservation = yield ctx.call_activity(reserve_inventory, input=placed["orderId"])
        yield ctx.create_timer(timedelta(milliseconds=10))
        if placed["customerId"] == WAITING_CUSTOMER:
            yield ctx.wait_for_external_event("finish")
        if placed["customerId"] == FAILING_CUSTOMER:
            yield ctx.call_activity(charge_payment, input=placed["orderId"])
        return {"orderId": placed["orderId"], "outcome": "completed", **reservation}

    @runtime.workflow(name=WorkflowName.APPROVAL.value)
    def approval(
        ctx: wf.DaprWorkflowContext, request: dict[str, Any]
    ) -> Generator[Any, Any, dict[str, Any]]:
        decision = yield ctx.wait_for_external_event(APPROVAL_DECISION_EVENT)
        return {"decision": decision}

    @runtime.workflow(name=WorkflowName.ORDER_BATCH.value)
    def order_batch(
        ctx: wf.DaprWorkflowContext, batch: dict[str, Any]
    ) -> Generator[Any, Any, dict[str, Any]]:
        children: list[Any] = [
            ctx.call_child_workflow(
                order_saga,
                input={"order": placed, "config": batch["config"]},
                instance_id=f"{ctx.instance_id}-{placed['orderId']}",
            )
            for placed in batch["orders"]
        ]
        results = yield wf.when_all(children)
        return {"batchId": batch["batchId"], "total": len(results)}

    @runtime.workflow(name=WorkflowName.STOCK_MONITOR.value)
    def stock_monitor(
        ctx: wf.DaprWorkflowContext, monitor: dict[str, Any]
    ) -> Generator[Any, Any, dict[str, int]]:
        yield ctx.create_timer(timedelta(seconds=monitor["intervalSeconds"]))
        return {"checks": 1}


def finished(client: wf.DaprWorkflowClient, instance_id: str) -> wf.WorkflowState:
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=WAIT)
    assert state is not None, f"run {instance_id} vanished"
    return state


def started(client: wf.DaprWorkflowClient, instance_id: str) -> wf.WorkflowState:
    state = client.wait_for_workflow_start(instance_id, timeout_in_seconds=WAIT)
    assert state is not None, f"run {instance_id} vanished"
    return state


class ServedApi:
    """The API served by uvicorn on a free loopback port, in a thread of the test process."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api-server", daemon=True)

    def start(self) -> ServedApi:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=WAIT, what=f"API on {self.url}")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=WAIT)


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[SidecarProcess]:
    """The orchestrator's sidecar: workflows, plus the platform's pub/sub and state store."""
    process = SidecarProcess(
        data_dir=tmp_path / "sidecar",
        app_id="orchestrator",
        extra_args=["--resources-path", str(COMPONENTS)],
    ).start()
    yield process
    process.stop()


@pytest.fixture
def dapr_client(sidecar: SidecarProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[DaprClient]:
    # The SDK probes the sidecar's HTTP health endpoint before connecting.
    monkeypatch.setenv("DAPR_HTTP_PORT", str(sidecar.http_port))
    monkeypatch.setenv("DAPR_HEALTH_TIMEOUT", "10")
    monkeypatch.delenv("DAPR_HTTP_ENDPOINT", raising=False)
    monkeypatch.delenv("DAPR_GRPC_ENDPOINT", raising=False)
    monkeypatch.delenv("DAPR_API_TOKEN", raising=False)
    client = DaprClient(address=sidecar.address)
    yield client
    client.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., wf.WorkflowRuntime]) -> wf.WorkflowRuntime:
    """A started runtime with the stand-in workflows."""
    workflow_runtime = make_runtime()
    register_stand_in_workflows(workflow_runtime)
    workflow_runtime.start()
    return workflow_runtime


# The tests' own identity: every role, and a subject no test order names as its customer.
TESTER = "tester"
ALL_ROLES = ("viewer", "operator", "approver")


def verifier(issuer: LocalIssuer) -> TokenVerifier:
    return TokenVerifier(issuer.issuer, issuer.audience, public_key_file=issuer.public_key_file)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def issuer(tmp_path: Path) -> LocalIssuer:
    """A local token issuer, as `make run` has one, whose tokens the test API accepts."""
    return local_issuer(tmp_path / "issuer")


@pytest.fixture
def tester_token(issuer: LocalIssuer) -> str:
    return issuer.mint(TESTER, ALL_ROLES)


@pytest.fixture
def make_app(
    client: wf.DaprWorkflowClient, dapr_client: DaprClient, issuer: LocalIssuer
) -> Callable[..., FastAPI]:
    def build(**settings: Any) -> FastAPI:
        return create_api(
            client, dapr_client, ApiSettings(**{"verifier": verifier(issuer), **settings})
        )

    return build


@pytest.fixture
def api(
    make_app: Callable[..., FastAPI], runtime: wf.WorkflowRuntime, tester_token: str
) -> Iterator[TestClient]:
    """The API over the real SDK clients, with the stand-in workflows running; every request
    carries the tester's token (all roles) unless it sends its own."""
    with TestClient(make_app(), headers=bearer(tester_token)) as http:
        yield http


@pytest.fixture
def served_api(
    make_app: Callable[..., FastAPI],
    runtime: wf.WorkflowRuntime,
    tester_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """The API served over HTTP by uvicorn; yields its base URL. `sagactl` (tests/cli)
    sends the tester's token unless a test gives another."""
    monkeypatch.setenv(TEST_TOKEN_VARIABLE, tester_token)
    server = ServedApi(make_app()).start()
    yield server.url
    server.stop()


# Where `served_api` leaves the tester's token for `tests/cli/helpers.sagactl`.
TEST_TOKEN_VARIABLE = "SAGACTL_TEST_TOKEN"
