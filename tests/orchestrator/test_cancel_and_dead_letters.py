"""Cancelling an order at each step, and the dead-letter inbox, through the management API
over the real orchestrator: real saga, real subscriptions (dead-letter inbox included),
scripted services. Each cancelled saga compensates what it did (the step in flight too),
newest first, and ends `cancelled`; every call lands in the audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from foundation.tokens import LocalIssuer, local_issuer
from services.contracts.names import EventType, Topic
from services.orchestrator.api import ApiSettings, create_api
from services.orchestrator.api.identity import TokenVerifier
from testkit.polling import wait_until
from tests.orchestrator.harness import CONFIG, Orchestrator, order

# Long enough that a silent service keeps the saga waiting while the test cancels it.
WAITING = CONFIG.model_copy(update={"step_timeout_seconds": 120, "approval_timeout_seconds": 120})


@pytest.fixture
def issuer(tmp_path: Path) -> LocalIssuer:
    return local_issuer(tmp_path / "issuer")


@pytest.fixture
def api(orchestrator: Orchestrator, issuer: LocalIssuer) -> Iterator[TestClient]:
    """The management API over the harness's clients, as the operator `oscar`."""
    verifier = TokenVerifier(issuer.issuer, issuer.audience, public_key_file=issuer.public_key_file)
    app = create_api(orchestrator.workflows, orchestrator.dapr, ApiSettings(verifier=verifier))
    token = issuer.mint("oscar", ["operator"])
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def waiting_at(orchestrator: Orchestrator, instance_id: str, step: str) -> None:
    wait_until(
        lambda: orchestrator.custom_status(instance_id).get("step") == step,
        timeout=30,
        what=f"{instance_id} at {step}",
    )


@pytest.mark.parametrize(
    ("silent", "step", "compensations"),
    [
        (EventType.INVENTORY_RESERVE, "reserving", ["release"]),
        (EventType.PAYMENT_CHARGE, "charging", ["refund", "release"]),
        (EventType.SHIPPING_CREATE, "shipping", ["cancel_shipment", "refund", "release"]),
    ],
)
def test_cancelling_at_a_step_compensates_it_and_every_step_before_in_reverse(
    orchestrator: Orchestrator,
    api: TestClient,
    silent: EventType,
    step: str,
    compensations: list[str],
) -> None:
    order_id = f"cancel-{step}"
    orchestrator.services.script(order_id, {silent: "silent"})
    instance_id = orchestrator.start_saga(order(order_id), WAITING)
    waiting_at(orchestrator, instance_id, step)

    response = api.post(f"/v1/orders/{order_id}/cancel", json={"reason": "customer asked"})

    assert response.status_code == 202, response.text
    assert response.json() == {
        "orderId": order_id,
        "sagaId": instance_id,
        "approvalWithdrawn": False,
    }
    result = orchestrator.saga_result(instance_id)
    assert result.outcome == "cancelled"
    assert result.reason == "cancelled by oscar: customer asked"
    assert result.compensations == compensations
    [status] = orchestrator.wait_for_status(order_id, EventType.ORDER_CANCELLED)
    assert status.data["outcome"] == "cancelled"
    [record] = api.get("/v1/audit", params={"action": "cancel", "target": order_id}).json()["items"]
    assert (record["actor"], record["reason"]) == ("oscar", "customer asked")


def test_cancelling_while_awaiting_approval_withdraws_it_and_releases_the_stock(
    orchestrator: Orchestrator, api: TestClient
) -> None:
    instance_id = orchestrator.start_saga(order("cancel-approval", 250_000), WAITING)
    waiting_at(orchestrator, instance_id, "awaiting_approval")

    response = api.post("/v1/orders/cancel-approval/cancel")

    assert response.status_code == 202, response.text
    assert response.json()["approvalWithdrawn"] is True
    result = orchestrator.saga_result(instance_id)
    assert result.outcome == "cancelled"
    assert result.failed_step == "approval"
    assert result.compensations == ["release"]
    approval = orchestrator.workflows.get_workflow_state("approval-cancel-approval")
    assert approval is not None
    assert approval.runtime_status.name == "TERMINATED"
    assert api.get("/v1/approvals").json()["items"] == []


def test_an_ended_or_unknown_order_cannot_be_cancelled(
    orchestrator: Orchestrator, api: TestClient
) -> None:
    orchestrator.saga_result(orchestrator.start_saga(order("cancel-late")))

    late = api.post("/v1/orders/cancel-late/cancel")
    unknown = api.post("/v1/orders/nobody/cancel")

    assert late.status_code == 409
    assert late.json()["code"] == "ORDER_NOT_CANCELLABLE"
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "ORDER_NOT_FOUND"


def test_a_refused_message_is_listed_with_its_reason_and_inspectable(
    orchestrator: Orchestrator, api: TestClient
) -> None:
    orchestrator.publish_raw(Topic.ORDERS, EventType.ORDER_PLACED, '{"orderId": "broken"}')

    letters = wait_until(
        lambda: api.get("/v1/dead-letters").json()["items"] or None,
        timeout=30,
        what="the dead letter",
    )

    [letter] = letters
    assert letter["source"] == "app"
    assert letter["appId"] == "orchestrator"
    assert (letter["topic"], letter["deadLetterTopic"]) == ("orders", "orders-dead-letter")
    assert letter["eventType"] == EventType.ORDER_PLACED
    assert letter["reason"].startswith("invalid OrderPlaced")
    assert json.loads(letter["data"]) == {"orderId": "broken"}
    assert api.get(f"/v1/dead-letters/{letter['id']}").json() == letter
    assert api.get("/v1/dead-letters/999").json()["code"] == "DEAD_LETTER_NOT_FOUND"


def test_replaying_a_dead_letter_publishes_it_on_its_topic_again(
    orchestrator: Orchestrator, api: TestClient
) -> None:
    """A message the runtime gave up on (forwarded as it was to the dead-letter topic) is
    processed once replayed: here an order whose saga then runs."""
    placed = order("replayed-1").to_json()
    orchestrator.publish_raw("orders-dead-letter", EventType.ORDER_PLACED, placed)
    [letter] = wait_until(
        lambda: api.get("/v1/dead-letters").json()["items"] or None,
        timeout=30,
        what="the dead letter",
    )
    assert letter["source"] == "runtime"
    assert "retries" in letter["reason"]
    assert orchestrator.workflows.get_workflow_state("order-replayed-1") is None

    replayed = api.post(f"/v1/dead-letters/{letter['id']}/replay")

    assert replayed.status_code == 202, replayed.text
    assert [r["by"] for r in replayed.json()["replays"]] == ["oscar"]
    assert orchestrator.saga_result("order-replayed-1").outcome == "completed"
    kept = api.get(f"/v1/dead-letters/{letter['id']}").json()
    assert [r["by"] for r in kept["replays"]] == ["oscar"]
    [record] = api.get("/v1/audit", params={"action": "replay"}).json()["items"]
    assert (record["actor"], record["target"]) == ("oscar", str(letter["id"]))
    assert api.post("/v1/dead-letters/999/replay").status_code == 404
