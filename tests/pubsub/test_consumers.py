"""Who gets a message: sidecars of one app id compete for it (each message handled once),
different app ids each get their own copy, and a message crosses from one app to another.
The sidecars share the `pubsub.sqlite` file of their common data dir."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from testkit.observer import data_of, sub
from testkit.polling import wait_until
from tests.pubsub.harness import PUBSUB, Cluster, sqlite_pubsub


def test_message_published_by_one_app_reaches_the_subscriber_of_another(
    cluster: Cluster,
) -> None:
    cluster.resources(sqlite_pubsub())
    shipping = cluster.pair("shipping", [sub("orders")])
    checkout = cluster.sidecar("checkout")  # a publisher without subscriptions

    cluster.client(checkout).publish_event(
        PUBSUB, "orders", json.dumps({"order": 1}), data_content_type="application/json"
    )

    [event] = shipping.app.wait_for()
    assert event["source"] == "checkout"
    assert data_of(event) == {"order": 1}
    assert event["topic"] == "orders"


def test_message_published_before_its_subscriber_registered_is_delivered(
    cluster: Cluster,
) -> None:
    # Apps of a Multi-App Run start in any order: a command published before its service
    # subscribed is retained and delivered once the service registers.
    cluster.resources(sqlite_pubsub())
    checkout = cluster.sidecar("checkout")
    cluster.client(checkout).publish_event(
        PUBSUB, "orders", json.dumps({"order": 7}), data_content_type="application/json"
    )

    shipping = cluster.pair("shipping", [sub("orders")])

    [event] = shipping.app.wait_for()
    assert data_of(event) == {"order": 7}


def test_competing_consumers_of_one_app_id_handle_each_message_once(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    workers = [
        cluster.pair("workers", [sub("jobs")], label=f"worker-{n}", data_dir=cluster.data_dir)
        for n in (1, 2)
    ]
    producer = cluster.client(cluster.sidecar("producer"))
    count = 60

    for n in range(count):
        producer.publish_event(
            PUBSUB, "jobs", json.dumps({"job": n}), data_content_type="application/json"
        )

    def handled() -> list[dict[str, object]] | None:
        events = [e for w in workers for e in w.app.events()]
        return events if len(events) >= count else None

    events = wait_until(handled, timeout=30, what=f"{count} jobs handled")
    per_job = Counter(data_of(e)["job"] for e in events)
    assert per_job == Counter(range(count))  # every job once, none twice
    per_worker = Counter(e["app"] for e in events)
    assert set(per_worker) == {"worker-1", "worker-2"}, per_worker


def test_every_app_id_gets_its_own_copy_of_each_message(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    email = cluster.pair("email", [sub("orders")])
    sms = cluster.pair("sms", [sub("orders")])
    producer = cluster.client(cluster.sidecar("checkout"))

    for n in range(10):
        producer.publish_event(
            PUBSUB, "orders", json.dumps({"order": n}), data_content_type="application/json"
        )

    for app in (email.app, sms.app):
        events = app.wait_for(count=10)
        assert sorted(data_of(e)["order"] for e in events) == list(range(10))
    assert {e["id"] for e in email.app.events()} == {e["id"] for e in sms.app.events()}


def _stored_messages(cluster: Cluster, topic: str) -> int:
    with sqlite3.connect(cluster.data_dir / f"{PUBSUB}.pubsub.sqlite") as db:
        query = "SELECT COUNT(*) FROM messages WHERE topic = ?"
        return int(db.execute(query, (topic,)).fetchone()[0])


def test_handled_messages_and_expired_unsubscribed_ones_leave_nothing_stored(
    cluster: Cluster,
) -> None:
    # Long enough that publishing the 40 messages below never outlasts it, even on a
    # loaded host; the first publish after it removes the unclaimed ones.
    cluster.resources(sqlite_pubsub({"retentionPeriod": "2s"}))
    pair = cluster.pair("shipping", [sub("orders")])
    client = cluster.client(pair.sidecar)

    for n in range(20):
        client.publish_event(PUBSUB, "nobody-listens", str(n))
        client.publish_event(PUBSUB, "orders", str(n))

    pair.app.wait_for(count=20)
    assert _stored_messages(cluster, "nobody-listens") == 20  # retained for a subscriber
    wait_until(lambda: _stored_messages(cluster, "orders") == 0, timeout=10, what="acked")

    def expired() -> bool:
        # Retained messages are cleaned up by the next publish after the retention period.
        client.publish_event(PUBSUB, "elsewhere", "tick")
        return _stored_messages(cluster, "nobody-listens") == 0

    wait_until(expired, timeout=10, interval=0.2, what="expired messages removed")
