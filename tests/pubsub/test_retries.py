"""The app's answer decides a message's fate: RETRY (or an error) redelivers it with the
Resiliency retry policy, DROP and exhausted retries move it to the dead-letter topic or,
without one, drop it with a warning that gives the reason."""

from __future__ import annotations

import json
from typing import Any

from testkit.observer import data_of, sub
from testkit.polling import wait_until
from testkit.resources import resiliency
from testkit.sidecar import SidecarProcess
from tests.pubsub.harness import PUBSUB, Cluster, sqlite_pubsub


def _warnings(sidecar: SidecarProcess, message_id: str) -> list[dict[str, Any]]:
    return [
        line
        for line in sidecar.log_lines()
        if line.get("level") == "warning" and line.get("message_id") == message_id
    ]


def test_retry_answer_is_redelivered_until_the_app_succeeds(cluster: Cluster) -> None:
    cluster.resources({**sqlite_pubsub(), "resiliency.yaml": resiliency(max_retries=-1)})
    pair = cluster.pair("billing", [sub("invoices", behaviour="retry:3")])
    client = cluster.client(pair.sidecar)

    client.publish_event(
        PUBSUB, "invoices", json.dumps({"n": 1}), data_content_type="application/json"
    )

    events = pair.app.wait_for(lambda e: e["outcome"] == "success")
    [message_id] = {e["id"] for e in events}
    # the answer settles it: a later message is delivered once, and nothing more of this one
    client.publish_event(
        PUBSUB, "invoices", json.dumps({"n": 2}), data_content_type="application/json"
    )
    pair.app.wait_for(lambda e: data_of(e) == {"n": 2} and e["outcome"] == "retry")
    pair.app.wait_for(lambda e: data_of(e) == {"n": 2} and e["outcome"] == "success")
    first = [e for e in pair.app.events() if e["id"] == message_id]
    assert [(e["attempt"], e["outcome"]) for e in first] == [
        (1, "retry"),
        (2, "retry"),
        (3, "retry"),
        (4, "success"),
    ]
    assert {data_of(e)["n"] for e in first} == {1}


def test_handler_error_is_retried_like_a_retry_answer(cluster: Cluster) -> None:
    cluster.resources({**sqlite_pubsub(), "resiliency.yaml": resiliency(max_retries=-1)})
    pair = cluster.pair("billing", [sub("invoices", behaviour="raise:2")])

    cluster.client(pair.sidecar).publish_event(PUBSUB, "invoices", "boom")

    events = pair.app.wait_for(lambda e: e["outcome"] == "success")
    assert [e["outcome"] for e in pair.app.events()] == ["raise", "raise", "success"]
    assert len({e["id"] for e in events}) == 1


def test_drop_answer_moves_the_message_to_the_dead_letter_topic(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair(
        "billing",
        [
            sub("invoices", behaviour="drop", dead_letter_topic="invoices-dead"),
            sub("invoices-dead", handler="dead-letters"),
        ],
    )

    cluster.client(pair.sidecar).publish_event(
        PUBSUB, "invoices", json.dumps({"n": 1}), data_content_type="application/json"
    )

    [dead] = pair.app.wait_for(lambda e: e["handler"] == "dead-letters")
    [dropped] = [e for e in pair.app.events() if e["handler"] == "on-invoices"]
    assert dropped["outcome"] == "drop"
    assert dead["id"] == dropped["id"]
    assert data_of(dead) == {"n": 1}
    assert dead["topic"] == "invoices-dead"
    assert dead["source"] == "billing"
    warning = _warnings(pair.sidecar, dropped["id"])
    assert [(w["dead_letter_topic"], w["reason"]) for w in warning] == [
        ("invoices-dead", "the app answered DROP")
    ]


def test_exhausted_retries_go_to_the_dead_letter_topic_of_another_subscriber(
    cluster: Cluster,
) -> None:
    cluster.resources({**sqlite_pubsub(), "resiliency.yaml": resiliency(max_retries=2)})
    reader = cluster.pair("dlq-reader", [sub("invoices-dead", handler="dead-letters")])
    pair = cluster.pair(
        "billing", [sub("invoices", behaviour="retry", dead_letter_topic="invoices-dead")]
    )

    cluster.client(pair.sidecar).publish_event(PUBSUB, "invoices", "never accepted")

    [dead] = reader.app.wait_for()
    attempts = [e for e in pair.app.events() if e["id"] == dead["id"]]
    assert [e["attempt"] for e in attempts] == [1, 2, 3]  # the first try and 2 retries
    assert dead["data_text"] == "never accepted"
    assert dead["topic"] == "invoices-dead"
    assert dead["extensions"]["topic"] == "invoices"  # the CloudEvent is moved unchanged
    [warning] = _warnings(pair.sidecar, dead["id"])
    assert warning["reason"].startswith("retries exhausted after 3")


def test_drop_without_dead_letter_topic_is_logged_with_the_reason(cluster: Cluster) -> None:
    cluster.resources({**sqlite_pubsub(), "resiliency.yaml": resiliency(max_retries=1)})
    pair = cluster.pair(
        "billing", [sub("invoices", behaviour="drop"), sub("refunds", behaviour="retry")]
    )
    client = cluster.client(pair.sidecar)

    client.publish_event(PUBSUB, "invoices", "unwanted")
    client.publish_event(PUBSUB, "refunds", "failing")

    [dropped] = pair.app.wait_for(lambda e: e["topic"] == "invoices")
    refused = pair.app.wait_for(lambda e: e["topic"] == "refunds", count=2)
    drop_warning = wait_until(lambda: _warnings(pair.sidecar, dropped["id"]), timeout=10)
    retry_warning = wait_until(lambda: _warnings(pair.sidecar, refused[0]["id"]), timeout=10)
    assert [(w["msg"], w["reason"]) for w in drop_warning] == [
        ("message dropped: the subscription has no dead-letter topic", "the app answered DROP")
    ]
    assert [w["msg"] for w in retry_warning] == [
        "message dropped: the subscription has no dead-letter topic"
    ]
    assert "retries exhausted after 2" in retry_warning[0]["reason"]
    assert retry_warning[0]["topic"] == "refunds"
    assert len([e for e in pair.app.events() if e["topic"] == "refunds"]) == 2


def test_dead_letter_nobody_subscribes_to_yet_is_kept_for_a_later_subscriber(
    cluster: Cluster,
) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair(
        "billing", [sub("invoices", behaviour="drop", dead_letter_topic="invoices-dead")]
    )

    cluster.client(pair.sidecar).publish_event(PUBSUB, "invoices", "unwanted")

    [dropped] = pair.app.wait_for()
    [warning] = wait_until(lambda: _warnings(pair.sidecar, dropped["id"]), timeout=10)
    assert warning["msg"].startswith("message sent to the dead-letter topic, which no app")
    assert warning["dead_letter_topic"] == "invoices-dead"
    assert warning["reason"] == "the app answered DROP"
    auditor = cluster.pair("auditor", [sub("invoices-dead")])
    [kept] = auditor.app.wait_for()
    assert kept["topic"] == "invoices-dead"
    assert kept["id"] == dropped["id"]


def test_app_call_exceeding_the_inbound_timeout_is_retried(cluster: Cluster) -> None:
    cluster.resources(
        {**sqlite_pubsub(), "resiliency.yaml": resiliency(max_retries=-1, timeout="300ms")}
    )
    pair = cluster.pair("billing", [sub("invoices", behaviour="block:1")])

    cluster.client(pair.sidecar).publish_event(PUBSUB, "invoices", "slow first")

    [answered] = pair.app.wait_for(lambda e: e["outcome"] == "success")
    assert [e["outcome"] for e in pair.app.events()] == ["block", "success"]
    assert answered["data_text"] == "slow first"
    [retry] = [
        line
        for line in pair.sidecar.log_lines()
        if line["msg"] == "message will be redelivered" and line["message_id"] == answered["id"]
    ]
    assert "DEADLINE_EXCEEDED" in retry["reason"]
