"""Runs through the API, against the real SDK client on the embedded sidecar: start (now or
scheduled), get, list (paging, filters), raise event, suspend, resume, terminate, rerun,
purge (one, forced, in bulk)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dapr.ext.workflow as wf
from fastapi.testclient import TestClient

from services.orchestrator.workflow_io import SagaConfig
from testkit.polling import wait_until
from tests.api.harness import (
    FAILING_CUSTOMER,
    WAITING_CUSTOMER,
    approval_request,
    bearer,
    finished,
    order,
    started,
)


def error_of(response: Any) -> tuple[int, str]:
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json", body
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(body), body
    assert body["status"] == response.status_code, body
    assert body["detail"], body
    return response.status_code, body["code"]


def wait_status(api: TestClient, instance_id: str, status: str) -> None:
    wait_until(
        lambda: api.get(f"/v1/runs/{instance_id}").json()["status"] == status,
        what=f"{instance_id} to be {status}",
    )


def start_saga(api: TestClient, order_id: str, customer: str = "cust-1") -> str:
    response = api.post("/v1/workflows/order_saga/runs", json={"input": order(order_id, customer)})
    assert response.status_code == 201, response.text
    return str(response.json()["instanceId"])


# --- start ------------------------------------------------------------------------------


def test_a_bare_order_starts_a_saga_named_for_the_order_with_the_configured_config(
    make_app: Any, runtime: wf.WorkflowRuntime, client: wf.DaprWorkflowClient, tester_token: str
) -> None:
    app = make_app(saga_config=SagaConfig(approval_threshold_cents=7))
    with TestClient(app, headers=bearer(tester_token)) as api:
        response = api.post("/v1/workflows/order_saga/runs", json={"input": order("o-1")})

    assert response.status_code == 201
    assert response.json() == {"instanceId": "order-o-1"}
    assert response.headers["location"] == "/v1/runs/order-o-1"
    state = finished(client, "order-o-1")
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED
    saga = json.loads(state.serialized_input)
    assert saga["order"]["orderId"] == "o-1"
    assert saga["config"]["approvalThresholdCents"] == 7


def test_an_explicit_instance_id_and_a_full_saga_input_are_kept(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    body = {"input": {"order": order("o-2"), "config": {"stepTimeoutSeconds": 5}}}
    response = api.post("/v1/workflows/order_saga/runs", json={**body, "instanceId": "custom-1"})

    assert response.json() == {"instanceId": "custom-1"}
    run = api.get("/v1/runs/custom-1").json()
    assert run["input"]["config"]["stepTimeoutSeconds"] == 5


def test_other_workflows_validate_their_own_input(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    approval = api.post("/v1/workflows/approval/runs", json={"input": approval_request("o-3")})
    monitor = api.post(
        "/v1/workflows/stock_monitor/runs",
        json={"input": {"skus": ["SKU-1"], "intervalSeconds": 0.01}},
    )
    batch = api.post(
        "/v1/workflows/order_batch/runs",
        json={"input": {"batchId": "b-1", "orders": [order("o-4")]}, "instanceId": "batch-1"},
    )

    assert approval.json() == {"instanceId": "approval-o-3"}
    assert monitor.status_code == 201
    assert finished(client, monitor.json()["instanceId"]).runtime_status == (
        wf.WorkflowStatus.COMPLETED
    )
    assert batch.json() == {"instanceId": "batch-1"}
    assert finished(client, "batch-1").runtime_status == wf.WorkflowStatus.COMPLETED


def test_an_unknown_workflow_name_is_404(api: TestClient) -> None:
    response = api.post("/v1/workflows/nonsense/runs", json={"input": {}})

    assert error_of(response) == (404, "WORKFLOW_NAME_NOT_FOUND")


def test_an_invalid_input_is_422_with_the_reason(api: TestClient) -> None:
    bad_order = {**order("o-5"), "cardNumber": "not-a-card"}
    response = api.post("/v1/workflows/order_saga/runs", json={"input": bad_order})

    assert error_of(response) == (422, "VALIDATION_FAILED")
    assert "cardNumber" in response.json()["detail"]
    not_an_object = api.post("/v1/workflows/approval/runs", json={"input": [1, 2]})
    assert error_of(not_an_object) == (422, "VALIDATION_FAILED")


def test_a_malformed_body_is_422_in_the_api_error_shape(api: TestClient) -> None:
    response = api.post("/v1/workflows/order_saga/runs", content=b"{not json")
    unknown_field = api.post("/v1/workflows/order_saga/runs", json={"inputs": {}})
    bad_id = api.post(
        "/v1/workflows/order_saga/runs", json={"input": order("o-6"), "instanceId": "a b"}
    )

    for answer in (response, unknown_field, bad_id):
        assert error_of(answer) == (422, "VALIDATION_FAILED")
        assert answer.json()["errors"]


def test_starting_a_running_instance_id_again_is_409(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "o-7", WAITING_CUSTOMER)
    started(client, "order-o-7")

    again = api.post("/v1/workflows/order_saga/runs", json={"input": order("o-7")})

    assert error_of(again) == (409, "WORKFLOW_ALREADY_EXISTS")


# --- get ------------------------------------------------------------------------------


def test_a_run_shows_status_times_input_and_output(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "o-8")
    finished(client, "order-o-8")

    run = api.get("/v1/runs/order-o-8").json()

    assert run["instanceId"] == "order-o-8"
    assert run["name"] == "order_saga"
    assert run["status"] == "COMPLETED"
    assert run["createdAt"].endswith("Z")
    assert run["lastUpdatedAt"] >= run["createdAt"]
    assert run["input"]["order"]["orderId"] == "o-8"
    assert run["output"] == {
        "orderId": "o-8",
        "outcome": "completed",
        "reservationId": "res-o-8",
    }
    assert run["failure"] is None


def test_a_failed_run_shows_its_failure(api: TestClient, client: wf.DaprWorkflowClient) -> None:
    start_saga(api, "o-9", FAILING_CUSTOMER)
    finished(client, "order-o-9")

    run = api.get("/v1/runs/order-o-9").json()

    assert run["status"] == "FAILED"
    assert run["failure"]["type"] == "TaskFailedError"
    assert "card declined for o-9" in run["failure"]["message"]


def test_an_unknown_run_is_404(api: TestClient) -> None:
    assert error_of(api.get("/v1/runs/missing")) == (404, "WORKFLOW_NOT_FOUND")


# --- list -----------------------------------------------------------------------------


def test_runs_are_listed_a_page_at_a_time_until_no_token_is_left(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    for n in range(5):
        start_saga(api, f"p-{n}")

    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        params: dict[str, Any] = {"pageSize": 2}
        if token:
            params["continuationToken"] = token
        page = api.get("/v1/runs", params=params).json()
        pages += 1
        assert len(page["items"]) <= 2
        seen += [run["instanceId"] for run in page["items"]]
        token = page["continuationToken"]
        if not token:
            break

    assert pages == 3
    assert sorted(seen) == [f"order-p-{n}" for n in range(5)]


def test_runs_are_filtered_by_status_and_by_name(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "f-1")
    start_saga(api, "f-2", WAITING_CUSTOMER)
    api.post("/v1/workflows/approval/runs", json={"input": approval_request("f-3")})
    finished(client, "order-f-1")
    started(client, "order-f-2")
    started(client, "approval-f-3")

    def ids(**params: Any) -> set[str]:
        body = api.get("/v1/runs", params={"pageSize": 100, **params}).json()
        return {run["instanceId"] for run in body["items"]}

    assert ids(status="COMPLETED") == {"order-f-1"}
    assert ids(status="running") == {"order-f-2", "approval-f-3"}
    assert ids(status="RUNNING", name="order_saga") == {"order-f-2"}
    assert ids(status="RUNNING,COMPLETED", name="order_saga") == {"order-f-1", "order-f-2"}
    assert ids(name="approval") == {"approval-f-3"}
    assert ids(name="stock_monitor") == set()


def test_list_parameters_are_validated(api: TestClient) -> None:
    assert error_of(api.get("/v1/runs", params={"status": "SLEEPING"})) == (
        422,
        "VALIDATION_FAILED",
    )
    assert error_of(api.get("/v1/runs", params={"pageSize": 0})) == (422, "VALIDATION_FAILED")
    assert error_of(api.get("/v1/runs", params={"pageSize": 100_000})) == (
        422,
        "VALIDATION_FAILED",
    )


# --- events, suspend, resume, terminate ----------------------------------------------


def test_a_raised_event_reaches_the_waiting_run(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "e-1", WAITING_CUSTOMER)
    started(client, "order-e-1")

    response = api.post("/v1/runs/order-e-1/events/finish", json={"data": {"ok": True}})

    assert response.status_code == 202
    assert response.json() == {"instanceId": "order-e-1"}
    assert finished(client, "order-e-1").runtime_status == wf.WorkflowStatus.COMPLETED
    raised = [
        event
        for event in api.get("/v1/runs/order-e-1/history").json()["events"]
        if event["kind"] == "EventRaised"
    ]
    assert raised[0]["name"] == "finish"
    assert raised[0]["details"]["input"] == {"ok": True}


def test_an_event_for_an_unknown_or_finished_run_is_refused(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "e-2")
    finished(client, "order-e-2")

    assert error_of(api.post("/v1/runs/ghost/events/finish", json={})) == (
        404,
        "WORKFLOW_NOT_FOUND",
    )
    assert error_of(api.post("/v1/runs/order-e-2/events/finish")) == (
        409,
        "WORKFLOW_NOT_RUNNING",
    )


def test_suspend_and_resume_record_their_reasons(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "s-1", WAITING_CUSTOMER)
    started(client, "order-s-1")

    assert api.post("/v1/runs/order-s-1/suspend", json={"reason": "maintenance"}).status_code == (
        202
    )
    wait_status(api, "order-s-1", "SUSPENDED")
    assert api.post("/v1/runs/order-s-1/resume", json={"reason": "done"}).status_code == 202
    wait_status(api, "order-s-1", "RUNNING")
    assert api.post("/v1/runs/order-s-1/suspend").status_code == 202  # no body, no reason
    wait_status(api, "order-s-1", "SUSPENDED")
    assert api.post("/v1/runs/order-s-1/resume").status_code == 202
    wait_status(api, "order-s-1", "RUNNING")

    events = [
        event
        for event in api.get("/v1/runs/order-s-1/history").json()["events"]
        if event["kind"] in {"ExecutionSuspended", "ExecutionResumed"}
    ]
    reasons = [(event["kind"], event["details"].get("reason")) for event in events]
    assert reasons == [
        ("ExecutionSuspended", "maintenance"),
        ("ExecutionResumed", "done"),
        ("ExecutionSuspended", None),
        ("ExecutionResumed", None),
    ]


def test_suspending_an_unknown_or_finished_run_is_refused(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "s-2")
    finished(client, "order-s-2")

    assert error_of(api.post("/v1/runs/ghost/suspend")) == (404, "WORKFLOW_NOT_FOUND")
    assert error_of(api.post("/v1/runs/order-s-2/suspend")) == (409, "WORKFLOW_NOT_RUNNING")
    assert error_of(api.post("/v1/runs/order-s-2/resume")) == (409, "WORKFLOW_NOT_RUNNING")


def test_terminate_ends_the_run_with_the_given_output(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "t-1", WAITING_CUSTOMER)
    started(client, "order-t-1")

    response = api.post("/v1/runs/order-t-1/terminate", json={"output": {"by": "ops"}})

    assert response.status_code == 202
    state = finished(client, "order-t-1")
    assert state.runtime_status == wf.WorkflowStatus.TERMINATED
    assert api.get("/v1/runs/order-t-1").json()["output"] == {"by": "ops"}
    assert error_of(api.post("/v1/runs/ghost/terminate")) == (404, "WORKFLOW_NOT_FOUND")


# --- purge ------------------------------------------------------------------------------


def test_purging_a_running_run_is_409_and_a_finished_one_removes_it(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "x-1", WAITING_CUSTOMER)
    started(client, "order-x-1")

    assert error_of(api.delete("/v1/runs/order-x-1")) == (409, "WORKFLOW_NOT_TERMINAL")

    api.post("/v1/runs/order-x-1/terminate")
    finished(client, "order-x-1")
    purged = api.delete("/v1/runs/order-x-1")

    assert purged.status_code == 200
    assert purged.json() == {"purged": 1, "instanceIds": ["order-x-1"]}
    assert error_of(api.get("/v1/runs/order-x-1")) == (404, "WORKFLOW_NOT_FOUND")
    assert error_of(api.delete("/v1/runs/order-x-1")) == (404, "WORKFLOW_NOT_FOUND")


def test_purge_older_than_removes_only_terminal_runs_created_before_the_cutoff(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "old-1")
    start_saga(api, "old-2", FAILING_CUSTOMER)
    start_saga(api, "live-1", WAITING_CUSTOMER)
    finished(client, "order-old-1")
    finished(client, "order-old-2")
    started(client, "order-live-1")

    # Every run is younger than an hour: nothing is old enough.
    assert api.post("/v1/runs/purge", json={"olderThan": "1h"}).json() == {
        "purged": 0,
        "instanceIds": [],
    }
    # Everything is older than zero; only the terminal runs go.
    response = api.post("/v1/runs/purge", json={"olderThan": "0s"}).json()

    assert response["purged"] == 2
    assert sorted(response["instanceIds"]) == ["order-old-1", "order-old-2"]
    remaining = api.get("/v1/runs", params={"pageSize": 100}).json()["items"]
    assert [run["instanceId"] for run in remaining] == ["order-live-1"]


def test_purge_older_than_needs_a_go_duration(api: TestClient) -> None:
    for bad in ("30d", "soon", "-1h", ""):
        response = api.post("/v1/runs/purge", json={"olderThan": bad})
        assert error_of(response) == (422, "VALIDATION_FAILED"), bad
    assert error_of(api.post("/v1/runs/purge", json={})) == (422, "VALIDATION_FAILED")


def test_a_forced_purge_removes_a_run_whatever_its_state(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "x-2", WAITING_CUSTOMER)
    started(client, "order-x-2")

    purged = api.delete("/v1/runs/order-x-2", params={"force": "true"})

    assert purged.status_code == 200
    assert purged.json() == {"purged": 1, "instanceIds": ["order-x-2"]}
    assert error_of(api.get("/v1/runs/order-x-2")) == (404, "WORKFLOW_NOT_FOUND")
    assert error_of(api.delete("/v1/runs/ghost", params={"force": "true"})) == (
        404,
        "WORKFLOW_NOT_FOUND",
    )


def test_purge_all_filtered_by_status_and_forced_for_a_status_that_is_not_terminal(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "all-1")
    start_saga(api, "all-2", FAILING_CUSTOMER)
    start_saga(api, "all-3", WAITING_CUSTOMER)
    start_saga(api, "all-4")
    finished(client, "order-all-1")
    finished(client, "order-all-2")
    started(client, "order-all-3")
    finished(client, "order-all-4")

    failed = api.post("/v1/runs/purge", json={"all": True, "status": "FAILED"}).json()
    not_forced = api.post("/v1/runs/purge", json={"all": True, "status": "RUNNING"})
    running = api.post("/v1/runs/purge", json={"all": True, "status": "RUNNING", "force": True})
    everything_terminal = api.post("/v1/runs/purge", json={"all": True}).json()

    assert failed == {"purged": 1, "instanceIds": ["order-all-2"]}
    assert error_of(not_forced) == (422, "VALIDATION_FAILED")
    assert "force" in not_forced.json()["detail"]
    assert running.json() == {"purged": 1, "instanceIds": ["order-all-3"]}
    assert sorted(everything_terminal["instanceIds"]) == ["order-all-1", "order-all-4"]
    assert api.get("/v1/runs", params={"pageSize": 100}).json()["items"] == []


def test_purge_created_before_a_moment(api: TestClient, client: wf.DaprWorkflowClient) -> None:
    start_saga(api, "cut-1")
    finished(client, "order-cut-1")
    created = api.get("/v1/runs/order-cut-1").json()["createdAt"]

    at_creation = api.post("/v1/runs/purge", json={"createdBefore": created}).json()
    after = api.post("/v1/runs/purge", json={"createdBefore": "2999-01-01T00:00:00Z"}).json()

    assert at_creation == {"purged": 0, "instanceIds": []}
    assert after == {"purged": 1, "instanceIds": ["order-cut-1"]}


def test_a_bulk_purge_names_exactly_one_selection(api: TestClient) -> None:
    for body in (
        {"all": True, "olderThan": "1h"},
        {"createdBefore": "2025-01-01T00:00:00Z", "olderThan": "1h"},
        {"all": False},
        {"all": True, "status": "SLEEPING"},
    ):
        assert error_of(api.post("/v1/runs/purge", json=body)) == (422, "VALIDATION_FAILED"), body


# --- scheduled start, list by age, rerun ---------------------------------------------


def test_a_run_with_a_start_time_is_pending_until_then(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_time = datetime.now(UTC) + timedelta(seconds=3)
    response = api.post(
        "/v1/workflows/order_saga/runs",
        json={"input": order("sch-1"), "startTime": start_time.isoformat()},
    )

    assert response.status_code == 201, response.text
    assert api.get("/v1/runs/order-sch-1").json()["status"] == "PENDING"
    state = finished(client, "order-sch-1")
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.last_updated_at.replace(tzinfo=UTC) >= start_time


def test_runs_are_listed_by_creation_time(api: TestClient, client: wf.DaprWorkflowClient) -> None:
    start_saga(api, "age-1")
    finished(client, "order-age-1")
    created = api.get("/v1/runs/order-age-1").json()["createdAt"]

    def ids(created_after: str) -> list[str]:
        page = api.get("/v1/runs", params={"createdAfter": created_after}).json()
        return [run["instanceId"] for run in page["items"]]

    assert ids(created) == ["order-age-1"]
    assert ids("2999-01-01T00:00:00") == []
    assert error_of(api.get("/v1/runs", params={"createdAfter": "yesterday"})) == (
        422,
        "VALIDATION_FAILED",
    )


def test_a_rerun_replays_a_finished_run_from_an_activity_with_a_new_input(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "r-1")
    finished(client, "order-r-1")
    scheduled = [
        event
        for event in api.get("/v1/runs/order-r-1/history").json()["events"]
        if event["kind"] == "TaskScheduled"
    ]
    assert scheduled[0]["name"] == "reserve_inventory"

    # Without an eventId, from the beginning: the first activity.
    same = api.post("/v1/runs/order-r-1/rerun", json={"newInstanceId": "rerun-1"})
    changed = api.post(
        "/v1/runs/order-r-1/rerun",
        json={"eventId": scheduled[0]["eventId"], "newInstanceId": "rerun-2", "input": "zz"},
    )
    random_id = api.post("/v1/runs/order-r-1/rerun")

    assert same.status_code == 201, same.text
    assert same.json() == {"instanceId": "rerun-1"}
    assert same.headers["location"] == "/v1/runs/rerun-1"
    assert changed.json() == {"instanceId": "rerun-2"}
    for instance_id in ("rerun-1", "rerun-2", random_id.json()["instanceId"]):
        assert finished(client, instance_id).runtime_status == wf.WorkflowStatus.COMPLETED
    assert api.get("/v1/runs/rerun-1").json()["output"]["reservationId"] == "res-r-1"
    assert api.get("/v1/runs/rerun-2").json()["output"]["reservationId"] == "res-zz"
    assert api.get("/v1/runs/order-r-1").json()["status"] == "COMPLETED"  # left as it was


def test_a_rerun_needs_a_finished_run_an_activity_event_and_a_free_id(
    api: TestClient, client: wf.DaprWorkflowClient
) -> None:
    start_saga(api, "r-2")
    start_saga(api, "r-3", WAITING_CUSTOMER)
    finished(client, "order-r-2")
    started(client, "order-r-3")

    assert error_of(api.post("/v1/runs/ghost/rerun")) == (404, "WORKFLOW_NOT_FOUND")
    assert error_of(api.post("/v1/runs/order-r-3/rerun")) == (409, "WORKFLOW_NOT_TERMINAL")
    assert error_of(api.post("/v1/runs/order-r-2/rerun", json={"eventId": 99}))[0] == 404
    assert error_of(api.post("/v1/runs/order-r-2/rerun", json={"newInstanceId": "order-r-3"})) == (
        409,
        "WORKFLOW_ALREADY_EXISTS",
    )
    assert error_of(api.post("/v1/runs/order-r-2/rerun", json={"eventId": -1})) == (
        422,
        "VALIDATION_FAILED",
    )
