"""The embedded sidecar's outbox beyond what daprd shows the same way (tests/fidelity/
test_state_outbox.py): the message is a row committed with the state, so a sidecar that
dies after the commit publishes it at its next start; a transaction that fails publishes
nothing; an outbox naming a pubsub the sidecar lacks fails the transaction."""

from __future__ import annotations

import json

import grpc
import pytest
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._request import TransactionalStateOperation

from sidecar.state import outbox
from sidecar.state.store import StateStore, Write
from testkit.observer import sub
from testkit.resources import component
from tests.pubsub.harness import PUBSUB, STATE, Cluster, sqlite_pubsub

TOPIC = "orders-outbox"


def outbox_store(pubsub: str = PUBSUB) -> dict[str, dict[str, object] | str]:
    metadata = {"outboxPublishPubsub": pubsub, "outboxPublishTopic": TOPIC, "keyPrefix": "none"}
    return {**sqlite_pubsub(), "state.yaml": component(STATE, "state.sqlite", metadata)}


def test_a_transaction_committed_before_a_crash_is_published_at_the_next_start(
    cluster: Cluster,
) -> None:
    cluster.resources(outbox_store())
    # What a sidecar of "orders" leaves when it is killed right after committing a
    # transaction: the state and its outbox row, written together, nothing published.
    store = StateStore(cluster.data_dir / f"{STATE}.state.sqlite")
    operation = outbox.Operation(Write("order-9", b'{"order": 9}'), {})
    settings = outbox.OutboxSettings(PUBSUB, TOPIC)
    writes, messages = outbox.plan([operation], settings, "orders", "")
    store.apply(writes, messages)
    store.close()

    pair = cluster.pair("orders", [sub(TOPIC)])

    [event] = pair.app.wait_for()
    assert event["data_text"] == '{"order": 9}'
    assert event["id"].startswith("outbox-")
    assert cluster.client(pair.sidecar).get_state(STATE, "order-9").data == b'{"order": 9}'


def test_a_failed_transaction_publishes_nothing(cluster: Cluster) -> None:
    cluster.resources(outbox_store())
    pair = cluster.pair("orders", [sub(TOPIC)])
    client = cluster.client(pair.sidecar)
    client.save_state(STATE, "order-1", "v1")
    stale = client.get_state(STATE, "order-1").etag
    client.save_state(STATE, "order-1", "v2")

    with pytest.raises(DaprGrpcError) as caught:
        client.execute_state_transaction(
            STATE,
            [
                TransactionalStateOperation(key="order-2", data="new"),
                TransactionalStateOperation(key="order-1", data="v3", etag=stale),
            ],
        )
    client.execute_state_transaction(
        STATE, [TransactionalStateOperation(key="order-3", data=json.dumps({"n": 3}))]
    )

    assert caught.value.code() == grpc.StatusCode.ABORTED
    [event] = pair.app.wait_for()
    assert event["data_text"] == '{"n": 3}'
    assert client.get_state(STATE, "order-2").data == b""


def test_an_outbox_naming_a_pubsub_the_sidecar_lacks_fails_the_transaction(
    cluster: Cluster,
) -> None:
    cluster.resources(outbox_store(pubsub="elsewhere"))
    client = cluster.client(cluster.sidecar("orders"))

    with pytest.raises(DaprGrpcError) as caught:
        client.execute_state_transaction(
            STATE, [TransactionalStateOperation(key="order-4", data="x")]
        )

    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "error while publishing outbox message" in str(caught.value.details())
    assert client.get_state(STATE, "order-4").data == b""
