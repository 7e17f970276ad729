"""What a subscriber app receives for what a publisher sends: the CloudEvent envelope the
sidecar builds, keeps or skips, through the SDK clients and a real `dapr.ext.grpc.App`."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from dapr.clients import BulkPublishEntry
from dapr.clients.exceptions import DaprGrpcError

from testkit.observer import data_of, sub
from tests.pubsub.harness import PUBSUB, Cluster, sqlite_pubsub


def test_published_json_arrives_as_a_complete_dapr_cloudevent(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair("checkout", [sub("orders")])
    before = datetime.now(UTC)

    cluster.client(pair.sidecar).publish_event(
        PUBSUB,
        "orders",
        json.dumps({"order_id": 7, "amount": 12.5}),
        data_content_type="application/json",
    )

    [event] = pair.app.wait_for()
    uuid.UUID(event["id"])  # a fresh id per published message
    assert event["source"] == "checkout"  # the publisher's app id
    assert event["type"] == "com.dapr.event.sent"
    assert event["specversion"] == "1.0"
    assert event["datacontenttype"] == "application/json"
    assert data_of(event) == {"order_id": 7, "amount": 12.5}
    assert event["sdk_data"] == {"order_id": 7, "amount": 12.5}
    assert event["topic"] == "orders"
    assert event["pubsubname"] == PUBSUB
    assert event["path"] == ""  # the SDK's default route for a rule-less subscription
    assert event["handler"] == "on-orders"
    extensions = event["extensions"]
    assert extensions["topic"] == "orders"
    assert extensions["pubsubname"] == PUBSUB
    sent = datetime.fromisoformat(extensions["time"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=5) <= sent <= datetime.now(UTC) + timedelta(seconds=5)
    # daprd (no trace exporter) starts no trace for a publish that carries none.
    assert (extensions["traceparent"], extensions["traceid"], extensions["tracestate"]) == (
        "",
        "",
        "",
    )
    assert not {"id", "source", "type", "specversion", "datacontenttype", "data"} & set(extensions)


def test_text_and_binary_data_arrive_byte_for_byte(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair("checkout", [sub("notes")])
    client = cluster.client(pair.sidecar)
    blob = bytes(range(256))

    client.publish_event(PUBSUB, "notes", "héllo wörld", data_content_type="text/plain")
    client.publish_event(PUBSUB, "notes", blob, data_content_type="application/octet-stream")

    events = pair.app.wait_for(count=2)
    by_type = {event["datacontenttype"]: event for event in events}
    assert by_type["text/plain"]["data_text"] == "héllo wörld"
    assert by_type["text/plain"]["sdk_data"] == "héllo wörld"
    assert base64.b64decode(by_type["application/octet-stream"]["data_base64"]) == blob


def test_data_sent_as_a_cloudevent_is_kept_and_completed(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair("checkout", [sub("orders")])
    own_event = {
        "specversion": "1.0",
        "id": "order-42",
        "source": "https://shop.example/orders",
        "type": "order.placed",
        "datacontenttype": "application/json",
        "subject": "order/42",
        "tenant": "acme",
        "data": {"order_id": 42},
    }

    cluster.client(pair.sidecar).publish_event(
        PUBSUB, "orders", json.dumps(own_event), data_content_type="application/cloudevents+json"
    )

    [event] = pair.app.wait_for()
    assert event["id"] == "order-42"
    assert event["source"] == "https://shop.example/orders"
    assert event["type"] == "order.placed"
    assert event["specversion"] == "1.0"
    assert event["datacontenttype"] == "application/json"
    assert data_of(event) == {"order_id": 42}
    extensions = event["extensions"]
    assert extensions["subject"] == "order/42"
    assert extensions["tenant"] == "acme"
    # completed by the sidecar
    assert extensions["topic"] == "orders"
    assert extensions["pubsubname"] == PUBSUB
    assert extensions["traceparent"] == extensions["traceid"] == ""  # none was sent


def test_raw_payload_is_delivered_without_an_envelope(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair("checkout", [sub("raw")])
    payload = b'{"not": "a cloudevent", "id": "x"}'

    cluster.client(pair.sidecar).publish_event(
        PUBSUB,
        "raw",
        payload,
        data_content_type="application/json",
        publish_metadata={"rawPayload": "true"},
    )

    [event] = pair.app.wait_for()
    assert base64.b64decode(event["data_base64"]) == payload
    assert event["topic"] == "raw"
    assert event["pubsubname"] == PUBSUB
    assert event["id"]
    assert event["id"] != "x"
    assert "not" not in event["extensions"]


def test_cloudevent_metadata_overrides_envelope_attributes(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair("checkout", [sub("orders")])
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    cluster.client(pair.sidecar).publish_event(
        PUBSUB,
        "orders",
        json.dumps({"order_id": 1}),
        data_content_type="application/json",
        publish_metadata={
            "cloudevent.id": "my-id",
            "cloudevent.source": "my-source",
            "cloudevent.type": "order.placed",
            "cloudevent.traceparent": traceparent,
        },
    )

    [event] = pair.app.wait_for()
    assert event["id"] == "my-id"
    assert event["source"] == "my-source"
    assert event["type"] == "order.placed"
    assert event["extensions"]["traceparent"] == traceparent
    assert data_of(event) == {"order_id": 1}


def test_bulk_publish_delivers_every_entry_as_its_own_event(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair("checkout", [sub("orders")])

    response = cluster.client(pair.sidecar).publish_events(
        PUBSUB,
        "orders",
        [
            json.dumps({"n": 1}),
            json.dumps({"n": 2}),
            BulkPublishEntry(event="plain text", content_type="text/plain", entry_id="third"),
        ],
        data_content_type="application/json",
    )

    assert response.failed_entries == []
    events = pair.app.wait_for(count=3)
    assert sorted(json.dumps(data_of(e)) for e in events) == sorted(
        [json.dumps({"n": 1}), json.dumps({"n": 2}), json.dumps("plain text")]
    )
    assert len({event["id"] for event in events}) == 3
    assert {event["datacontenttype"] for event in events} == {"application/json", "text/plain"}
    assert {event["source"] for event in events} == {"checkout"}


async def test_async_client_publishes_like_the_sync_one(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair("checkout", [sub("orders")])

    async with cluster.async_client(pair.sidecar) as client:
        await client.publish_event(
            PUBSUB, "orders", json.dumps({"via": "aio"}), data_content_type="application/json"
        )
        await client.publish_events(PUBSUB, "orders", ["a", "b"], data_content_type="text/plain")

    events = pair.app.wait_for(count=3)
    assert sorted(json.dumps(data_of(e)) for e in events) == sorted(
        [json.dumps({"via": "aio"}), json.dumps("a"), json.dumps("b")]
    )


def test_publish_to_an_unknown_pubsub_is_refused(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    client = cluster.client(cluster.sidecar("checkout"))

    with pytest.raises(DaprGrpcError) as caught:
        client.publish_event("nope", "orders", "x")

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "pubsub nope is not found" in str(caught.value.details())
