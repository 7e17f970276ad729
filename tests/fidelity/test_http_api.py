"""daprd's HTTP API, called with plain `httpx`: state (save, get with its ETag, bulk get,
delete with `If-Match`, transactions), publish and bulk publish, workflows (start, get,
pause, resume, raise an event, terminate, purge) and metadata, with daprd's paths, status
codes and `{"errorCode", "message"}` errors. What HTTP writes, the gRPC SDK reads.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import httpx
import pytest

from testkit.daprd import DaprdServices, daprd_process, pointed_at
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ROOT, ManagedProcess
from testkit.sidecar import SidecarProcess
from tests.fidelity.apps import launch
from tests.fidelity.apps.records import read
from tests.fidelity.runtimes import (
    DEFAULT_RESOURCES,
    WAIT,
    AppRuntime,
    Sdk,
    StartApp,
    wait_subscribed,
    write_resources,
)

STORE = "statestore"


def api(app: AppRuntime, path: str) -> str:
    return f"http://{app.host}:{app.http_port}{path}"


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errorCode"]


def test_state_over_http(app: AppRuntime, sdk: Sdk) -> None:
    items = [{"key": "order-1", "value": {"sku": "A", "qty": 2}}, {"key": "note", "value": "hi"}]
    assert httpx.post(api(app, f"/v1.0/state/{STORE}"), json=items).status_code == 204

    read_back = httpx.get(api(app, f"/v1.0/state/{STORE}/order-1"))
    assert read_back.status_code == 200
    assert read_back.json() == {"sku": "A", "qty": 2}
    etag = read_back.headers["ETag"]
    assert sdk.dapr(app).get_state(STORE, "note").data == b'"hi"'  # the JSON, as daprd stores it
    bulk = httpx.post(api(app, f"/v1.0/state/{STORE}/bulk"), json={"keys": ["note", "nothing"]})
    assert bulk.status_code == 200
    assert [(i["key"], i.get("data")) for i in bulk.json()] == [("note", "hi"), ("nothing", None)]
    assert httpx.get(api(app, f"/v1.0/state/{STORE}/nothing")).status_code == 204

    stale = [{"key": "order-1", "value": 3, "etag": "999999"}]
    assert error_of(httpx.post(api(app, f"/v1.0/state/{STORE}"), json=stale)) == (
        409,
        "ERR_STATE_SAVE",
    )
    wrong = httpx.delete(api(app, f"/v1.0/state/{STORE}/order-1"), headers={"If-Match": "999999"})
    assert error_of(wrong) == (409, "ERR_STATE_DELETE")
    right = httpx.delete(api(app, f"/v1.0/state/{STORE}/order-1"), headers={"If-Match": etag})
    assert right.status_code == 204
    assert httpx.get(api(app, f"/v1.0/state/{STORE}/order-1")).status_code == 204

    operations = [
        {"operation": "upsert", "request": {"key": "t-1", "value": [1, 2]}},
        {"operation": "delete", "request": {"key": "note"}},
    ]
    transaction = api(app, f"/v1.0/state/{STORE}/transaction")
    assert httpx.post(transaction, json={"operations": operations}).status_code == 204
    assert httpx.get(api(app, f"/v1.0/state/{STORE}/t-1")).json() == [1, 2]
    assert httpx.get(api(app, f"/v1.0/state/{STORE}/note")).status_code == 204
    merge = {"operations": [{"operation": "merge", "request": {"key": "t-1"}}]}
    assert error_of(httpx.post(transaction, json=merge)) == (
        400,
        "ERR_NOT_SUPPORTED_STATE_OPERATION",
    )


def test_state_errors_over_http(app: AppRuntime) -> None:
    assert error_of(httpx.get(api(app, "/v1.0/state/nostore/k"))) == (
        400,
        "ERR_STATE_STORE_NOT_FOUND",
    )
    no_key = httpx.post(api(app, f"/v1.0/state/{STORE}"), json=[{"value": 1}])
    assert error_of(no_key) == (400, "ERR_MALFORMED_REQUEST")
    garbled = httpx.post(api(app, f"/v1.0/state/{STORE}"), content=b"{not json")
    assert error_of(garbled) == (400, "ERR_MALFORMED_REQUEST")


@pytest.fixture
def subscriber(start_app: StartApp, tmp_path: Path) -> Iterator[tuple[AppRuntime, Path]]:
    """The FastAPI app `shop`, subscribed to `orders`; what it receives is in the path."""
    port, records = free_port(), tmp_path / "records.jsonl"
    shop = start_app("shop", app_port=port, app_protocol="http")
    process: ManagedProcess = launch.app("fastapi_app", "shop", port, records)
    wait_subscribed(shop, {"orders"})
    yield shop, records
    process.stop()


def test_publish_and_bulk_publish_over_http(
    start_app: StartApp, subscriber: tuple[AppRuntime, Path]
) -> None:
    _, records = subscriber
    publisher = start_app("publisher")

    single = httpx.post(
        api(publisher, "/v1.0/publish/pubsub/orders?metadata.note=x"),
        json={"answer": "SUCCESS", "n": 1},
    )
    assert single.status_code == 204
    entries = [
        {
            "entryId": str(n),
            "event": {"answer": "SUCCESS", "n": n},
            "contentType": "application/json",
        }
        for n in (2, 3)
    ]
    bulk = httpx.post(api(publisher, "/v1.0-alpha1/publish/bulk/pubsub/orders"), json=entries)
    assert bulk.status_code == 204
    received = wait_until(
        lambda: found if len(found := read(records, "event")) >= 3 else None,
        timeout=WAIT,
        what="the three messages",
    )
    assert sorted(r["event"]["data"]["n"] for r in received) == [1, 2, 3]
    assert {r["event"]["source"] for r in received} == {"publisher"}

    unknown = httpx.post(api(publisher, "/v1.0/publish/nopubsub/orders"), json={})
    assert error_of(unknown) == (404, "ERR_PUBSUB_NOT_FOUND")
    twice = [entries[0], entries[0]]
    duplicated = httpx.post(api(publisher, "/v1.0/publish/bulk/pubsub/orders"), json=twice)
    assert error_of(duplicated) == (400, "ERR_PUBSUB_EVENTS_SER")


def test_metadata_over_http(subscriber: tuple[AppRuntime, Path]) -> None:
    shop, _ = subscriber
    document = httpx.get(api(shop, "/v1.0/metadata")).json()

    assert document["id"] == "shop"
    assert {"statestore", "pubsub"} <= {c["name"] for c in document["components"]}
    assert document["appConnectionProperties"]["protocol"] == "http"


def test_workflows_over_http(app: AppRuntime, sdk: Sdk) -> None:
    worker = sdk.worker(app)

    @worker.workflow(name="waits_for_approval")
    def waits_for_approval(
        ctx: wf.DaprWorkflowContext, order: dict[str, Any]
    ) -> Generator[Any, Any, dict[str, Any]]:
        decision = yield ctx.wait_for_external_event("approval")
        return {"order": order, "decision": decision}

    worker.start()
    base = api(app, "/v1.0-beta1/workflows/dapr")

    started = httpx.post(f"{base}/waits_for_approval/start?instanceID=order-7", json={"id": 7})
    assert (started.status_code, started.json()) == (202, {"instanceID": "order-7"})

    def status() -> str:
        found = httpx.get(f"{base}/order-7")
        assert found.status_code == 200, found.text
        return str(found.json()["runtimeStatus"])

    wait_until(lambda: status() == "RUNNING", timeout=WAIT, what="the workflow to run")
    found = httpx.get(f"{base}/order-7").json()
    assert found["workflowName"] == "waits_for_approval"
    assert json.loads(found["properties"]["dapr.workflow.input"]) == {"id": 7}
    assert httpx.post(f"{base}/order-7/pause").status_code == 202
    assert status() == "SUSPENDED"
    assert httpx.post(f"{base}/order-7/resume").status_code == 202
    assert status() == "RUNNING"
    raised = httpx.post(f"{base}/order-7/raiseEvent/approval", json={"approved": True})
    assert raised.status_code == 202
    wait_until(lambda: status() == "COMPLETED", timeout=WAIT, what="the workflow to complete")
    output = httpx.get(f"{base}/order-7").json()["properties"]["dapr.workflow.output"]
    assert json.loads(output) == {"order": {"id": 7}, "decision": {"approved": True}}

    second = httpx.post(f"{base}/waits_for_approval/start", json={"id": 8}).json()["instanceID"]
    wait_until(lambda: httpx.get(f"{base}/{second}").json()["runtimeStatus"] == "RUNNING")
    assert httpx.post(f"{base}/{second}/terminate").status_code == 202
    wait_until(lambda: httpx.get(f"{base}/{second}").json()["runtimeStatus"] == "TERMINATED")
    assert httpx.post(f"{base}/{second}/purge").status_code == 202
    assert error_of(httpx.get(f"{base}/{second}")) == (404, "ERR_INSTANCE_ID_NOT_FOUND")
    invalid = httpx.post(f"{base}/waits_for_approval/start?instanceID=not%20valid")
    assert error_of(invalid) == (400, "ERR_INSTANCE_ID_INVALID")


TOKEN = "s3cret-token"


@pytest.fixture(params=["embedded", "daprd"])
def guarded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppRuntime]:
    """A runtime whose environment sets `DAPR_API_TOKEN` (the harness's sidecars have none)."""
    if request.param == "embedded":
        folder = write_resources(ROOT / "components", tmp_path / "resources", DEFAULT_RESOURCES)
        sidecar = SidecarProcess(
            tmp_path / "data",
            app_id="guarded",
            extra_args=["--resources-path", str(folder)],
            env={"DAPR_API_TOKEN": TOKEN},
        ).start()
        yield AppRuntime("guarded", sidecar.grpc_port, sidecar.http_port)
        sidecar.stop()
        return
    services = DaprdServices(tmp_path / "daprd").start()
    folder = write_resources(
        ROOT / "components-daprd",
        tmp_path / "resources",
        DEFAULT_RESOURCES,
        lambda document: pointed_at(document, services.redis_address),
    )
    grpc_port, http_port = free_port(), free_port()
    daprd = daprd_process(
        services,
        "guarded",
        grpc_port=grpc_port,
        http_port=http_port,
        resources=folder,
        config=services.configuration(tmp_path / "daprd" / "config.yaml"),
        log_path=tmp_path / "daprd.log",
    )
    daprd.env = {**(daprd.env or {}), "DAPR_API_TOKEN": TOKEN}
    daprd.start()
    yield AppRuntime("guarded", grpc_port, http_port)
    daprd.stop()
    services.close()


GUARDED_ROUTES = [
    ("GET", "/v1.0/metadata"),
    ("GET", f"/v1.0/state/{STORE}/k"),
    ("POST", f"/v1.0/state/{STORE}"),
    ("POST", f"/v1.0/state/{STORE}/bulk"),
    ("POST", f"/v1.0/state/{STORE}/transaction"),
    ("DELETE", f"/v1.0/state/{STORE}/k"),
    ("POST", "/v1.0/publish/pubsub/orders"),
    ("POST", "/v1.0-alpha1/publish/bulk/pubsub/orders"),
    ("POST", "/v1.0/invoke/guarded/method/echo"),
    ("GET", "/v1.0-beta1/workflows/dapr/some-id"),
    ("POST", "/v1.0-beta1/workflows/dapr/some-id/terminate"),
]


def test_every_route_needs_the_api_token_but_health(guarded: AppRuntime) -> None:
    for method, path in GUARDED_ROUTES:
        refused = httpx.request(method, api(guarded, path), content=b"[]")
        assert (refused.status_code, refused.text.strip()) == (401, "invalid api token"), path
        allowed = httpx.request(
            method,
            api(guarded, path),
            content=b"[]",
            headers={"dapr-api-token": TOKEN},
            timeout=WAIT,  # daprd looks for a workflow's actor for a few seconds
        )
        assert allowed.status_code != 401, path
    # No token needed; daprd answers 500 until its start-up has finished (placement,
    # actors), which can come after its ports open on a busy machine.
    for path in ("/v1.0/healthz", "/v1.0/healthz/outbound"):
        url = api(guarded, path)

        def healthy(url: str = url) -> bool:
            return httpx.get(url).status_code == 204

        wait_until(healthy, timeout=WAIT, interval=0.2, what=f"{path}: 204 without a token")
