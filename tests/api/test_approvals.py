"""Approvals: pending `approval` runs are listed; approve and reject raise
`approval_decision` with an `ApprovalDecided` into `approval-<orderId>`, the caller's token
subject as the approver."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dapr.ext.workflow as wf
from fastapi.testclient import TestClient

from foundation.tokens import LocalIssuer
from tests.api.harness import approval_request, bearer, finished, started


def request_approval(
    api: TestClient, client: wf.DaprWorkflowClient, order_id: str, amount: int = 250_000
) -> None:
    response = api.post(
        "/v1/workflows/approval/runs", json={"input": approval_request(order_id, amount)}
    )
    assert response.status_code == 201, response.text
    started(client, f"approval-{order_id}")


def test_pending_approvals_are_listed_with_order_amount_and_expiry(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    request_approval(api, client, "a-1", 250_000)
    request_approval(api, client, "a-2", 300_000)
    request_approval(api, client, "a-3")
    api.post("/v1/approvals/a-3/approve")
    finished(client, "approval-a-3")

    body = api.get("/v1/approvals", params={"status": "pending"}).json()

    items = sorted(body["items"], key=lambda item: item["orderId"])
    assert [item["orderId"] for item in items] == ["a-1", "a-2"]
    first = items[0]
    assert first["instanceId"] == "approval-a-1"
    assert first["sagaId"] == "order-a-1"
    assert first["customerId"] == "cust-1"
    assert first["amountCents"] == 250_000
    assert first["currency"] == "USD"
    assert first["status"] == "RUNNING"
    requested = datetime.fromisoformat(first["requestedAt"])
    assert datetime.fromisoformat(first["expiresAt"]) - requested == timedelta(hours=1)
    assert api.get("/v1/approvals").json() == body  # pending is the default


def test_approve_raises_the_decision_into_the_approval_run(
    api: TestClient, client: wf.DaprWorkflowClient, issuer: LocalIssuer
) -> None:
    request_approval(api, client, "a-4")

    response = api.post(
        "/v1/approvals/a-4/approve", headers=bearer(issuer.mint("alice", ["approver"]))
    )

    assert response.status_code == 202
    assert response.json() == {"orderId": "a-4", "instanceId": "approval-a-4", "approved": True}
    output = json.loads(finished(client, "approval-a-4").serialized_output)
    assert output == {"decision": {"orderId": "a-4", "approved": True, "approver": "alice"}}


def test_reject_carries_the_reason(
    api: TestClient, client: wf.DaprWorkflowClient, issuer: LocalIssuer
) -> None:
    request_approval(api, client, "a-5")

    response = api.post(
        "/v1/approvals/a-5/reject",
        json={"reason": "over budget"},
        headers=bearer(issuer.mint("bob", ["approver"])),
    )

    assert response.json()["approved"] is False
    output = json.loads(finished(client, "approval-a-5").serialized_output)
    assert output["decision"] == {
        "orderId": "a-5",
        "approved": False,
        "approver": "bob",
        "reason": "over budget",
    }


def test_deciding_an_unknown_or_decided_approval_is_refused(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    request_approval(api, client, "a-6")
    api.post("/v1/approvals/a-6/approve")
    finished(client, "approval-a-6")

    unknown = api.post("/v1/approvals/nobody/approve")
    decided = api.post("/v1/approvals/a-6/reject", json={"reason": "late"})

    assert unknown.status_code == 404
    assert unknown.json()["code"] == "APPROVAL_NOT_FOUND"
    assert decided.status_code == 409
    assert decided.json()["code"] == "APPROVAL_NOT_PENDING"


def test_the_approver_is_never_a_body_field_and_a_rejection_needs_a_reason(
    api: TestClient,
) -> None:
    for path, body in (
        ("/v1/approvals/a-7/approve", {"approver": "alice"}),
        ("/v1/approvals/a-7/reject", {}),
        ("/v1/approvals/a-7/reject", {"approver": "bob", "reason": "no"}),
        ("/v1/approvals/bad%20id/approve", {}),
    ):
        response = api.post(path, json=body)
        assert response.status_code == 422, (path, body)
        assert response.json()["code"] == "VALIDATION_FAILED"
    assert api.get("/v1/approvals", params={"status": "decided"}).status_code == 422
