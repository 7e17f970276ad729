"""Routing rules (CEL over the CloudEvent) pick the handler path; wildcard topics."""

from __future__ import annotations

import json
from typing import Any

from testkit.observer import data_of, sub
from testkit.polling import wait_until
from testkit.resources import subscription
from testkit.sidecar import SidecarProcess, wait_topics
from tests.pubsub.harness import PUBSUB, Cluster, sqlite_pubsub

ORDER_RULES = [
    {"match": 'event.type == "order.placed"', "path": "placed"},
    {"match": "event.data.amount > 100", "path": "big"},
]


def _publish_orders(cluster: Cluster, sidecar: SidecarProcess) -> None:
    client = cluster.client(sidecar)
    for name, amount, metadata in [
        ("placed", 5, {"cloudevent.type": "order.placed"}),
        ("big", 500, {}),
        ("placed-and-big", 900, {"cloudevent.type": "order.placed"}),  # first rule wins
        ("small", 1, {}),
    ]:
        client.publish_event(
            PUBSUB,
            "orders",
            json.dumps({"name": name, "amount": amount}),
            data_content_type="application/json",
            publish_metadata=metadata,
        )


def _handler_by_name(events: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {data_of(e)["name"]: (e["handler"], e["path"]) for e in events}


def test_app_routing_rules_choose_the_handler_with_default_route(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair("shipping", [sub("orders", rules=ORDER_RULES, handler="fallback")])

    _publish_orders(cluster, pair.sidecar)

    events = pair.app.wait_for(count=4)
    assert _handler_by_name(events) == {
        "placed": ("placed", "placed"),
        "big": ("big", "big"),
        "placed-and-big": ("placed", "placed"),
        # the SDK's default route for a topic with rules is the topic itself
        "small": ("fallback", "orders"),
    }
    assert all(e["outcome"] == "success" for e in events)


def test_declarative_subscription_rules_and_default_route(cluster: Cluster) -> None:
    cluster.resources(
        {
            **sqlite_pubsub(),
            "subscription.yaml": subscription(
                "order-routes",
                "orders",
                rules=(
                    ('event.type == "order.placed"', "placed"),
                    ("event.data.amount > 100", "big"),
                ),
                default="fallback",
            ),
        }
    )
    # The app serves the paths but declares no subscription of its own for the topic:
    # its handlers sit on another topic; the SDK dispatches on the path alone.
    handlers = sub(
        "unused",
        rules=[
            {"match": "false", "path": "placed"},
            {"match": "false", "path": "big"},
            {"match": "false", "path": "fallback"},
        ],
        default=False,
    )
    app = cluster.app("shipping", [handlers])
    sidecar = cluster.sidecar("shipping", app=app)
    wait_topics(sidecar, {"orders", "unused"})

    _publish_orders(cluster, sidecar)

    events = app.wait_for(count=4)
    assert _handler_by_name(events) == {
        "placed": ("placed", "placed"),
        "big": ("big", "big"),
        "placed-and-big": ("placed", "placed"),
        "small": ("fallback", "fallback"),
    }


def test_app_subscription_wins_over_a_declarative_one_for_the_same_topic(
    cluster: Cluster,
) -> None:
    cluster.resources(
        {
            **sqlite_pubsub(),
            "subscription.yaml": subscription("orders-decl", "orders", default="declared"),
        }
    )
    pair = cluster.pair("shipping", [sub("orders")])
    [declared] = [s for s in pair.sidecar.metadata()["subscriptions"] if s["topic"] == "orders"]
    assert declared["type"] == "PROGRAMMATIC"

    cluster.client(pair.sidecar).publish_event(PUBSUB, "orders", "x")

    [event] = pair.app.wait_for()
    assert (event["handler"], event["path"]) == ("on-orders", "")
    assert any("two identical subscriptions" in line["msg"] for line in pair.sidecar.log_lines())


def test_event_matching_no_rule_and_no_default_is_not_delivered(cluster: Cluster) -> None:
    cluster.resources(
        {
            **sqlite_pubsub(),
            "subscription.yaml": subscription(
                "only-big", "orders", rules=(("event.data.amount > 100", "big"),)
            ),
        }
    )
    app = cluster.app(
        "shipping", [sub("unused", rules=[{"match": "false", "path": "big"}], default=False)]
    )
    sidecar = cluster.sidecar("shipping", app=app)
    wait_topics(sidecar, {"orders", "unused"})
    client = cluster.client(sidecar)

    client.publish_event(
        PUBSUB, "orders", json.dumps({"amount": 1}), data_content_type="application/json"
    )
    client.publish_event(
        PUBSUB, "orders", json.dumps({"amount": 101}), data_content_type="application/json"
    )

    [event] = app.wait_for()
    assert data_of(event) == {"amount": 101}
    assert event["handler"] == "big"
    # the unmatched one is settled (as daprd skips it), with the reason in the log
    [skipped] = wait_until(
        lambda: [
            line for line in sidecar.log_lines() if line.get("reason") == "no routing rule matched"
        ],
        timeout=10,
    )
    assert skipped["topic"] == "orders"
    assert skipped["message_id"] != event["id"]
    assert [data_of(e) for e in app.events()] == [{"amount": 101}]


def test_wildcard_topic_subscription_receives_matching_topics(cluster: Cluster) -> None:
    cluster.resources(sqlite_pubsub())
    pair = cluster.pair(
        "audit", [sub("orders/+/created", handler="one-level"), sub("payments/#", handler="all")]
    )
    client = cluster.client(pair.sidecar)

    for topic in [
        "orders/eu/created",
        "orders/us/created",
        "orders/eu/deleted",
        "orders/eu/x/created",
        "payments",
        "payments/card",
        "payments/card/refund",
        "paymentsx/card",
    ]:
        client.publish_event(PUBSUB, topic, topic, data_content_type="text/plain")

    client.publish_event(PUBSUB, "payments/end", "payments/end", data_content_type="text/plain")

    events = pair.app.wait_for(count=6)
    received = sorted((e["handler"], e["topic"]) for e in events)
    assert received == [
        ("all", "payments"),
        ("all", "payments/card"),
        ("all", "payments/card/refund"),
        ("all", "payments/end"),
        ("one-level", "orders/eu/created"),
        ("one-level", "orders/us/created"),
    ]
    assert all(e["data_text"] == e["topic"] for e in events)


def test_app_subscription_with_an_invalid_rule_is_refused_and_the_others_work(
    cluster: Cluster,
) -> None:
    cluster.resources(sqlite_pubsub())
    app = cluster.app(
        "shipping",
        [sub("broken", rules=[{"match": "event.type ==", "path": "never"}]), sub("orders")],
    )
    sidecar = cluster.sidecar("shipping", app=app)
    wait_topics(sidecar, {"orders"})

    cluster.client(sidecar).publish_event(PUBSUB, "orders", "fine")

    [event] = app.wait_for()
    assert event["topic"] == "orders"
    [refusal] = [line for line in sidecar.log_lines() if line["level"] == "error"]
    assert refusal["topic"] == "broken"
    assert "event.type ==" in refusal["e"]
