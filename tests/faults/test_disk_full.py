"""A full disk: a clear refusal, nothing acknowledged lost, writes again once there is room.

The disk is the sidecar's own cap on its files (`--sqlite-max-size`, SQLite's
`max_page_count`): a write beyond it fails with SQLITE_FULL exactly as on a full disk.
Freeing room (deleting keys) lets writes through again without a restart, and a
`kill -9` afterwards loses none of the writes that were acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError
from google.protobuf.wrappers_pb2 import StringValue

from sidecar.workflow.protos import pb
from testkit.observer import data_of, sub
from testkit.polling import wait_until
from testkit.resources import resiliency
from testkit.sidecar import SidecarProcess, stub_for
from tests.pubsub.harness import PUBSUB, Cluster, cluster, sqlite_pubsub

__all__ = ["cluster"]  # the fixture

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
VALUE = "x" * 3000  # about one page each


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[SidecarProcess]:
    sidecar = SidecarProcess(
        tmp_path,
        extra_args=[
            "--resources-path",
            str(COMPONENTS),
            "--enable-metrics=false",
            "--sqlite-max-size",
            "256Ki",
        ],
    ).start()
    yield sidecar
    sidecar.stop()


def _save(http: httpx.Client, key: str) -> httpx.Response:
    return http.post("/v1.0/state/statestore", json=[{"key": key, "value": f"{key}:{VALUE}"}])


def _read(http: httpx.Client, key: str) -> str | None:
    answer = http.get(f"/v1.0/state/statestore/{key}")
    return None if answer.status_code == 204 else str(json.loads(answer.content))


def test_a_full_disk_refuses_clearly_keeps_what_was_acknowledged_and_recovers(
    capped: SidecarProcess, tmp_path: Path
) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{capped.http_port}", timeout=30) as http:
        acknowledged: list[str] = []
        refusal = None
        for n in range(200):
            answer = _save(http, f"order-{n}")
            if answer.status_code != 204:
                refusal = answer
                break
            acknowledged.append(f"order-{n}")
        assert refusal is not None, "the capped file never filled"
        assert len(acknowledged) > 10
        assert refusal.status_code == 507, refusal.text
        error = refusal.json()
        assert error["errorCode"] == "ERR_STORAGE_FULL"
        assert str(tmp_path / "state.sqlite") in error["message"]
        assert "nothing of this request was written" in error["message"]
        assert _read(http, f"order-{len(acknowledged)}") is None  # the refused write
        assert capped.http_get("/v1.0/healthz")[0] == 204

        for key in acknowledged[:5]:  # room returns
            assert http.delete(f"/v1.0/state/statestore/{key}").status_code == 204
        kept = acknowledged[5:]
        assert _save(http, "after-room").status_code == 204
        kept.append("after-room")

    capped.restart()  # kill -9, then the same data
    with httpx.Client(base_url=f"http://127.0.0.1:{capped.http_port}", timeout=30) as http:
        assert [_read(http, key) for key in kept] == [f"{key}:{VALUE}" for key in kept]


def test_a_full_workflow_store_refuses_starts_clearly_and_keeps_the_started_ones(
    capped: SidecarProcess, tmp_path: Path
) -> None:
    """The workflow API on a full disk: `RESOURCE_EXHAUSTED` naming the file; the
    instances acknowledged before survive a `kill -9`, and with more room (a larger cap)
    starts succeed again."""
    started: list[str] = []
    refusal = None
    stub = stub_for(capped.address)
    for n in range(200):
        request = pb.CreateInstanceRequest(
            instanceId=f"saga-{n}", name="order_saga", input=StringValue(value=VALUE)
        )
        try:
            stub.StartInstance(request, timeout=30)
        except grpc.RpcError as error:
            refusal = error
            break
        started.append(f"saga-{n}")
    assert refusal is not None, "the capped file never filled"
    assert refusal.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(tmp_path / f"{capped.app_id}.sqlite") in refusal.details()
    assert len(started) > 10

    capped.kill()
    capped.extra_args[-1] = "4Mi"  # room returns
    capped.start()
    stub = stub_for(capped.address)
    for instance_id in started:
        found = stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id), timeout=30)
        assert found.exists, instance_id
    request = pb.CreateInstanceRequest(instanceId="after-room", name="order_saga")
    assert stub.StartInstance(request, timeout=30).instanceId == "after-room"


def test_a_full_pubsub_store_refuses_publishes_delivers_the_accepted_ones_then_accepts_again(
    cluster: Cluster,
) -> None:
    """With its app down, a sidecar's pub/sub file fills: publishes are refused with
    `RESOURCE_EXHAUSTED`, and every accepted one is delivered once the app is back.
    Delivered messages are deleted, which makes room: publishing works again."""
    cluster.resources(
        {**sqlite_pubsub(), "resiliency.yaml": resiliency(max_retries=-1, duration="100ms")}
    )
    pair = cluster.pair("ledger", [sub("entries")], sidecar_args=["--sqlite-max-size", "256Ki"])
    pair.app.kill()
    client = cluster.client(pair.sidecar)
    accepted: list[int] = []
    refusal = None
    for n in range(200):
        try:
            client.publish_event(PUBSUB, "entries", json.dumps({"entry": n, "pad": VALUE}))
        except DaprGrpcError as error:
            refusal = error
            break
        accepted.append(n)
    assert refusal is not None, "the capped file never filled"
    assert refusal.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "pubsub.sqlite" in str(refusal.details())
    assert len(accepted) > 10

    pair.app.start()
    delivered = pair.app.wait_for(count=len(accepted), what="every accepted message")
    assert sorted(data_of(event)["entry"] for event in delivered) == accepted
    wait_until(
        lambda: _publishes(client, {"entry": "after-room"}),
        timeout=30,
        what="a publish to be accepted once the delivered messages are deleted",
    )
    pair.app.wait_for(lambda event: data_of(event)["entry"] == "after-room")


def _publishes(client: DaprClient, data: dict[str, str]) -> bool:
    try:
        client.publish_event(PUBSUB, "entries", json.dumps(data))
    except DaprGrpcError:
        return False
    return True
