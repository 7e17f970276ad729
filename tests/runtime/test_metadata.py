"""GetMetadata, health, shutdown, and the clear refusal of the APIs the sidecar lacks."""

from __future__ import annotations

import grpc
import pytest

from testkit.observer import sub
from testkit.resources import component, subscription
from testkit.sidecar import wait_topics
from tests.pubsub.harness import PUBSUB, STATE, Cluster


def test_metadata_lists_components_and_subscriptions(cluster: Cluster) -> None:
    cluster.resources(
        {
            "pubsub.yaml": component(PUBSUB, "pubsub.sqlite"),
            "state.yaml": component(STATE, "state.in-memory"),
            "other.yaml": component("not-mine", "state.sqlite", scopes=["someone-else"]),
            "subscription.yaml": subscription(
                "audit-all",
                "audit",
                rules=(("event.type == 'x'", "x-events"),),
                default="audit-default",
                dead_letter_topic="audit-dead",
            ),
        }
    )
    app = cluster.app(
        "inventory",
        [
            sub(
                "orders",
                rules=[{"match": "event.data.n > 1", "path": "many"}],
                dead_letter_topic="orders-dead",
            )
        ],
    )
    sidecar = cluster.sidecar("inventory", app=app)
    wait_topics(sidecar, {"orders", "audit"})

    metadata = cluster.client(sidecar).get_metadata()

    assert metadata.application_id == "inventory"
    assert sorted((c.name, c.type, c.version) for c in metadata.registered_components) == [
        (PUBSUB, "pubsub.sqlite", "v1"),
        (STATE, "state.in-memory", "v1"),
    ]
    # the SDK's GetMetadataResponse has no subscriptions: daprd's HTTP document has them
    document = sidecar.metadata()
    assert document["id"] == "inventory"
    subscriptions = {s["topic"]: s for s in document["subscriptions"]}
    assert subscriptions["orders"] == {
        "pubsubname": PUBSUB,
        "topic": "orders",
        # the SDK declares the topic as default route beside rules
        "rules": [{"match": "event.data.n > 1", "path": "many"}, {"path": "orders"}],
        "deadLetterTopic": "orders-dead",
        "type": "PROGRAMMATIC",
    }
    assert subscriptions["audit"] == {
        "pubsubname": PUBSUB,
        "topic": "audit",
        "rules": [{"match": "event.type == 'x'", "path": "x-events"}, {"path": "audit-default"}],
        "deadLetterTopic": "audit-dead",
        "type": "DECLARATIVE",
    }
    assert document["appConnectionProperties"]["port"] == app.port
    assert {c["name"] for c in document["components"]} == {PUBSUB, STATE}


async def test_async_client_reads_metadata(cluster: Cluster) -> None:
    cluster.resources({"state.yaml": component(STATE, "state.sqlite")})
    sidecar = cluster.sidecar("inventory")

    async with cluster.async_client(sidecar) as client:
        metadata = await client.get_metadata()

    assert metadata.application_id == "inventory"
    assert [c.name for c in metadata.registered_components] == [STATE]


def test_health_endpoint_answers_204(cluster: Cluster) -> None:
    cluster.resources({})
    sidecar = cluster.sidecar("inventory")

    assert sidecar.http_get("/v1.0/healthz") == (204, b"")
    assert sidecar.http_get("/v1.0/healthz/outbound")[0] == 204


@pytest.mark.filterwarnings("ignore:The Distributed Lock API is an Alpha:UserWarning")
def test_unimplemented_apis_say_so_clearly(cluster: Cluster) -> None:
    cluster.resources({"state.yaml": component(STATE, "state.sqlite")})
    client = cluster.client(cluster.sidecar("inventory"))

    for method, call in [
        ("GetSecret", lambda: client.get_secret("vault", "db-password")),
        ("InvokeBinding", lambda: client.invoke_binding("queue", "create", data=b"x")),
        ("TryLockAlpha1", lambda: client.try_lock("locks", "res", "me", 10)),
    ]:
        with pytest.raises(grpc.RpcError) as caught:  # DaprGrpcError
            call()
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED, method
        details = str(caught.value.details())
        assert f"does not implement {method}" in details, details
        assert "daprd" in details


def test_shutdown_api_stops_the_sidecar_cleanly(cluster: Cluster) -> None:
    cluster.resources({})
    sidecar = cluster.sidecar("inventory")

    cluster.client(sidecar).shutdown()

    assert sidecar.process is not None
    assert sidecar.process.wait(timeout=15) == 0
