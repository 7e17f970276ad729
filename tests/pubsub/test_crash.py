"""At-least-once delivery across `kill -9`: an acknowledged publish reaches the app even if
the sidecar or the app dies before the app has answered."""

from __future__ import annotations

import json

from testkit.observer import data_of, sub
from testkit.resources import resiliency
from testkit.sidecar import wait_connected
from tests.pubsub.harness import PUBSUB, Cluster, sqlite_pubsub

FOREVER = resiliency(max_retries=-1, duration="100ms")


def test_sidecar_killed_while_the_app_handles_a_message_redelivers_it(cluster: Cluster) -> None:
    cluster.resources({**sqlite_pubsub(), "resiliency.yaml": FOREVER})
    pair = cluster.pair("ledger", [sub("entries", behaviour="block:1")])

    cluster.client(pair.sidecar).publish_event(
        PUBSUB, "entries", json.dumps({"entry": 1}), data_content_type="application/json"
    )
    [first] = pair.app.wait_for(what="first delivery, which the app holds")
    pair.sidecar.kill()  # before the app answered: nothing was acknowledged
    pair.sidecar.start()

    [second] = pair.app.wait_for(lambda e: e["outcome"] == "success", what="redelivery")
    assert second["id"] == first["id"]
    assert data_of(second) == {"entry": 1}
    assert [e["outcome"] for e in pair.app.events()] == ["block", "success"]


def test_sidecar_killed_before_delivering_an_acknowledged_publish_delivers_it_after_restart(
    cluster: Cluster,
) -> None:
    cluster.resources({**sqlite_pubsub(), "resiliency.yaml": FOREVER})
    pair = cluster.pair("ledger", [sub("entries")])
    pair.app.kill()  # the app is down: the sidecar cannot deliver

    cluster.client(pair.sidecar).publish_event(
        PUBSUB, "entries", json.dumps({"entry": 2}), data_content_type="application/json"
    )
    pair.sidecar.kill()
    pair.sidecar.start()
    pair.app.start()
    wait_connected(pair.sidecar)

    [event] = pair.app.wait_for(what="the message published before the crash")
    assert data_of(event) == {"entry": 2}
    assert event["attempt"] == 1


def test_app_killed_while_handling_a_message_gets_it_again_after_restart(
    cluster: Cluster,
) -> None:
    cluster.resources({**sqlite_pubsub(), "resiliency.yaml": FOREVER})
    pair = cluster.pair("ledger", [sub("entries", behaviour="block")])

    cluster.client(pair.sidecar).publish_event(
        PUBSUB, "entries", json.dumps({"entry": 3}), data_content_type="application/json"
    )
    [held] = pair.app.wait_for(what="the delivery the app holds")
    pair.app.kill()
    pair.app.subscriptions = [sub("entries", behaviour="success")]
    pair.app.start()

    [again] = pair.app.wait_for(lambda e: e["outcome"] == "success", what="redelivery")
    assert again["id"] == held["id"]
    assert again["pid"] != held["pid"]
    assert data_of(again) == {"entry": 3}
