"""A run's history as JSON events and as a Mermaid sequence diagram, from real runs."""

from __future__ import annotations

import dapr.ext.workflow as wf
from fastapi.testclient import TestClient

from testkit.polling import wait_until
from tests.api.harness import FAILING_CUSTOMER, WAITING_CUSTOMER, finished, order, started


def test_history_lists_each_event_with_its_payload(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    api.post("/v1/workflows/order_saga/runs", json={"input": order("h-1")})
    finished(client, "order-h-1")

    body = api.get("/v1/runs/order-h-1/history").json()

    assert body["instanceId"] == "order-h-1"
    events = body["events"]
    kinds = [event["kind"] for event in events if event["kind"] != "WorkflowStarted"]
    assert kinds == [
        "ExecutionStarted",
        "TaskScheduled",
        "TaskCompleted",
        "TimerCreated",
        "TimerFired",
        "ExecutionCompleted",
    ]
    by_kind = {event["kind"]: event for event in events}
    assert by_kind["ExecutionStarted"]["name"] == "order_saga"
    assert by_kind["ExecutionStarted"]["details"]["input"]["order"]["orderId"] == "h-1"
    scheduled = by_kind["TaskScheduled"]
    assert scheduled["name"] == "reserve_inventory"
    assert scheduled["details"]["input"] == "h-1"
    completed = by_kind["TaskCompleted"]["details"]
    assert completed["taskScheduledId"] == scheduled["eventId"]
    assert completed["result"] == {"reservationId": "res-h-1"}
    assert by_kind["TimerFired"]["details"]["timerId"] == by_kind["TimerCreated"]["eventId"]
    assert by_kind["TimerCreated"]["details"]["fireAt"].endswith("Z")
    assert by_kind["ExecutionCompleted"]["details"]["workflowStatus"] == "COMPLETED"
    assert all(event["timestamp"].endswith("Z") for event in events)


def test_history_of_an_unknown_run_is_404(api: TestClient) -> None:
    for path in ("/v1/runs/ghost/history", "/v1/runs/ghost/history/mermaid"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "WORKFLOW_NOT_FOUND"


def test_mermaid_draws_activities_timers_events_and_completion(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    api.post("/v1/workflows/order_saga/runs", json={"input": order("m-1", WAITING_CUSTOMER)})
    started(client, "order-m-1")
    wait_until(
        lambda: any(
            event["details"].get("externalEvent") == {"name": "finish"}
            for event in api.get("/v1/runs/order-m-1/history").json()["events"]
        ),
        what="the run to wait for its event",
    )
    api.post("/v1/runs/order-m-1/events/finish", json={"data": "go"})
    finished(client, "order-m-1")

    response = api.get("/v1/runs/order-m-1/history/mermaid")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert "    participant client as Client" in lines
    assert "    participant wf as order_saga (order-m-1)" in lines
    assert "    participant a1 as reserve_inventory" in lines
    assert "    participant e2 as External events" in lines
    body = [line.strip() for line in lines[1:] if not line.strip().startswith("participant")]
    assert body[:3] == [
        "client->>wf: start order_saga",
        "wf->>a1: call reserve_inventory",
        "a1-->>wf: completed",
    ]
    assert body[3].startswith("Note over wf: timer set for ")
    assert body[4].startswith("Note over wf: timer fired (")
    assert body[5:] == [
        "Note over wf: waiting for event finish",
        "e2->>wf: event finish",
        "wf-->>client: COMPLETED",
    ]


def test_mermaid_draws_child_workflows_and_failures(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    batch = {"batchId": "b-1", "orders": [order("c-1"), order("c-2", FAILING_CUSTOMER)]}
    api.post("/v1/workflows/order_batch/runs", json={"input": batch, "instanceId": "batch-m"})
    state = finished(client, "batch-m")
    assert state.runtime_status == wf.WorkflowStatus.FAILED

    diagram = api.get("/v1/runs/batch-m/history/mermaid").text

    assert "participant c1 as order_saga (batch-m-c-1)" in diagram
    assert "participant c2 as order_saga (batch-m-c-2)" in diagram
    assert "wf->>c1: start child workflow order_saga" in diagram
    assert "c1-->>wf: completed" in diagram
    assert "c2--xwf: failed: " in diagram
    assert "wf--xclient: FAILED: " in diagram
    child = api.get("/v1/runs/batch-m-c-2/history/mermaid").text
    assert "a2--xwf: failed: card declined for c-2" in child
