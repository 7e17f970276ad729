"""`DAPR_API_TOKEN` on the sidecar: every API call must carry it, the Dapr API and the
workflow API alike; `APP_API_TOKEN` is what the sidecar sends to the app."""

from __future__ import annotations

import json
from functools import partial

import dapr.ext.workflow as wf
import grpc
import pytest
from dapr.clients.exceptions import DaprGrpcError

from testkit.observer import data_of, sub
from testkit.resources import component
from testkit.sidecar import SidecarProcess, wait_connected
from tests.pubsub.harness import PUBSUB, STATE, Cluster

TOKEN = "sidecar-secret"
APP_TOKEN = "app-secret"


@pytest.fixture
def guarded(cluster: Cluster) -> SidecarProcess:
    cluster.resources(
        {
            "pubsub.yaml": component(PUBSUB, "pubsub.sqlite"),
            "state.yaml": component(STATE, "state.sqlite"),
        }
    )
    return cluster.sidecar("vault", env={"DAPR_API_TOKEN": TOKEN})


def test_dapr_api_calls_without_the_token_are_unauthenticated(
    cluster: Cluster, guarded: SidecarProcess
) -> None:
    for token in (None, "wrong-" + TOKEN):
        client = cluster.client(guarded, token=token)
        for call in (
            partial(client.save_state, STATE, "k", "v"),
            partial(client.get_state, STATE, "k"),
            partial(client.publish_event, PUBSUB, "orders", "x"),
            client.get_metadata,
        ):
            with pytest.raises(DaprGrpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "dapr-api-token" in str(caught.value.details())

    client = cluster.client(guarded, token=TOKEN)
    assert client.get_state(STATE, "k").data == b""  # nothing was saved without the token


def test_dapr_api_calls_with_the_token_work(cluster: Cluster, guarded: SidecarProcess) -> None:
    client = cluster.client(guarded, token=TOKEN)

    client.save_state(STATE, "k", "v")
    client.publish_event(PUBSUB, "orders", "x")

    assert client.get_state(STATE, "k").data == b"v"
    assert client.get_metadata().application_id == "vault"


async def test_async_client_sends_the_token_from_the_environment(
    cluster: Cluster, guarded: SidecarProcess
) -> None:
    async with cluster.async_client(guarded, token=TOKEN) as client:
        await client.save_state(STATE, "async-key", "v")
        assert (await client.get_state(STATE, "async-key")).data == b"v"


def test_workflow_api_requires_the_token_too(
    cluster: Cluster, guarded: SidecarProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAPR_API_TOKEN", raising=False)
    anonymous = wf.DaprWorkflowClient(host="127.0.0.1", port=str(guarded.grpc_port))
    try:
        with pytest.raises(grpc.RpcError) as caught:
            anonymous.schedule_new_workflow("order_saga", instance_id="wf-1")
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        anonymous.close()

    monkeypatch.setenv("DAPR_API_TOKEN", TOKEN)
    trusted = wf.DaprWorkflowClient(host="127.0.0.1", port=str(guarded.grpc_port))
    try:
        assert trusted.schedule_new_workflow("order_saga", instance_id="wf-1") == "wf-1"
        state = trusted.get_workflow_state("wf-1", fetch_payloads=False)
        assert state is not None
        assert state.instance_id == "wf-1"
    finally:
        trusted.close()


def test_http_api_needs_the_token_but_health_does_not(guarded: SidecarProcess) -> None:
    assert guarded.http_get("/v1.0/healthz")[0] == 204
    assert guarded.http_get("/v1.0/metadata")[0] == 401
    assert guarded.http_get("/v1.0/metadata", token="wrong")[0] == 401
    status, body = guarded.http_get("/v1.0/metadata", token=TOKEN)
    assert status == 200
    assert json.loads(body)["id"] == "vault"


def test_app_api_token_is_sent_to_the_app(cluster: Cluster) -> None:
    cluster.resources({"pubsub.yaml": component(PUBSUB, "pubsub.sqlite")})
    app = cluster.app("vault", [sub("orders")])
    sidecar = cluster.sidecar(
        "vault", app=app, env={"DAPR_API_TOKEN": TOKEN, "APP_API_TOKEN": APP_TOKEN}
    )
    wait_connected(sidecar, token=TOKEN)

    cluster.client(sidecar, token=TOKEN).publish_event(PUBSUB, "orders", "guarded")

    [event] = app.wait_for()
    assert data_of(event) == "guarded"
    assert event["metadata"]["dapr-api-token"] == APP_TOKEN
