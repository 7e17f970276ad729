"""The audit trail: every state-changing call is recorded with who (the token's subject),
when, what, on which target and why; `GET /v1/audit` filters and pages, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dapr.ext.workflow as wf
from fastapi.testclient import TestClient

from foundation.tokens import LocalIssuer
from tests.api.harness import (
    WAITING_CUSTOMER,
    approval_request,
    bearer,
    finished,
    order,
    started,
)


def audit(api: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/audit", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_every_state_changing_call_is_recorded_with_who_when_what_and_why(
    api: TestClient, client: wf.DaprWorkflowClient, issuer: LocalIssuer
) -> None:
    before = datetime.now(UTC)
    alice = bearer(issuer.mint("alice", ["approver"], name="Alice A."))
    api.post("/v1/workflows/order_saga/runs", json={"input": order("au-1", WAITING_CUSTOMER)})
    started(client, "order-au-1")
    api.post("/v1/runs/order-au-1/suspend", json={"reason": "checking stock"})
    api.post("/v1/runs/order-au-1/resume", json={"reason": "stock found"})
    api.post("/v1/runs/order-au-1/events/finish", json={"data": {"ok": True}})
    finished(client, "order-au-1")
    api.post("/v1/runs/order-au-1/rerun", json={"newInstanceId": "au-1-again"})
    started(client, "au-1-again")  # waits for `finish` again
    api.post("/v1/runs/au-1-again/terminate")
    finished(client, "au-1-again")
    api.delete("/v1/runs/au-1-again")
    for order_id in ("au-2", "au-3"):
        api.post("/v1/workflows/approval/runs", json={"input": approval_request(order_id)})
        started(client, f"approval-{order_id}")
    api.post("/v1/approvals/au-2/approve", headers=alice)
    api.post("/v1/approvals/au-3/reject", json={"reason": "over budget"}, headers=alice)
    api.post("/v1/workflows/approval/runs", json={"input": approval_request("au-4")})
    started(client, "approval-au-4")
    api.post("/v1/runs/approval-au-4/terminate", json={"reason": "duplicate request"})
    finished(client, "approval-au-4")
    api.post("/v1/runs/purge", json={"all": True})
    api.post("/v1/orders", json=order("au-5"))

    records = audit(api)

    assert [(r["action"], r["target"]) for r in reversed(records)] == [
        ("start", "order-au-1"),
        ("suspend", "order-au-1"),
        ("resume", "order-au-1"),
        ("raise_event", "order-au-1"),
        ("rerun", "order-au-1"),
        ("terminate", "au-1-again"),
        ("purge", "au-1-again"),
        ("start", "approval-au-2"),
        ("start", "approval-au-3"),
        ("approve", "au-2"),
        ("reject", "au-3"),
        ("start", "approval-au-4"),
        ("terminate", "approval-au-4"),
        ("purge", "*"),
        ("place_order", "au-5"),
    ]
    by_action = {r["action"]: r for r in reversed(records)}  # the newest of each
    assert by_action["suspend"]["reason"] == "checking stock"
    assert by_action["raise_event"]["details"] == {"event": "finish"}
    assert by_action["rerun"]["details"]["newInstanceId"] == "au-1-again"
    assert by_action["reject"]["actor"] == "alice"
    assert by_action["reject"]["actorName"] == "Alice A."
    assert by_action["reject"]["roles"] == ["approver"]
    assert by_action["reject"]["reason"] == "over budget"
    assert by_action["terminate"]["reason"] == "duplicate request"
    assert set(by_action["purge"]["details"]["instanceIds"]) >= {"order-au-1", "approval-au-4"}
    assert {r["actor"] for r in records} == {"tester", "alice"}
    ids = [r["id"] for r in records]
    assert ids == sorted(ids, reverse=True)
    for record in records:
        assert before <= datetime.fromisoformat(record["at"]) <= datetime.now(UTC)


def test_refused_calls_change_nothing_and_are_not_recorded(
    api: TestClient, issuer: LocalIssuer
) -> None:
    viewer = bearer(issuer.mint("victor", ["viewer"]))

    assert api.post("/v1/runs/nothing/terminate").status_code == 404
    assert api.post("/v1/orders/x/cancel", headers=viewer).status_code == 403

    assert audit(api) == []


def test_the_trail_is_filtered_and_paged_newest_first(
    api: TestClient, client: wf.DaprWorkflowClient, issuer: LocalIssuer
) -> None:
    oscar = bearer(issuer.mint("oscar", ["operator"]))
    for number in range(5):
        api.post("/v1/orders", json=order(f"page-{number}"))
    api.post("/v1/orders", json=order("page-oscar"), headers=oscar)

    first = api.get("/v1/audit", params={"pageSize": 4}).json()
    second = api.get(
        "/v1/audit", params={"pageSize": 4, "continuationToken": first["continuationToken"]}
    ).json()

    targets = [r["target"] for r in first["items"] + second["items"]]
    assert targets == ["page-oscar", *(f"page-{n}" for n in reversed(range(5)))]
    assert second["continuationToken"] is None
    assert [r["target"] for r in audit(api, actor="oscar")] == ["page-oscar"]
    assert [r["target"] for r in audit(api, target="page-2")] == ["page-2"]
    assert audit(api, action="cancel") == []
    assert len(audit(api, action="place_order")) == 6
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert audit(api, since=tomorrow) == []
    assert len(audit(api, until=tomorrow)) == 6
    assert api.get("/v1/audit", params={"continuationToken": "x"}).status_code == 422
    assert api.get("/v1/audit", params={"action": "delete"}).status_code == 422
