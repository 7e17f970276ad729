"""Apps called over HTTP (`--app-protocol http`) get their messages as daprd delivers them:
subscriptions read from `GET /dapr/subscribe` (the Python SDK's `DaprApp` on FastAPI, or an
app writing the JSON itself, routing rules included) and from declarative `Subscription`
resources; each message POSTed to its route as `application/cloudevents+json` with a
`pubsubname` header; the app's answer read as daprd reads it (`postman/http`): a JSON
`status` of SUCCESS, RETRY or DROP, an empty or non-JSON 2xx as SUCCESS, an unknown status
and any other error status retried, 404 dropped (to the dead-letter topic).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ManagedProcess
from testkit.resources import subscription
from tests.fidelity.apps import launch
from tests.fidelity.apps.records import read
from tests.fidelity.runtimes import WAIT, AppRuntime, Resources, Sdk, StartApp, metadata_of

CLOUDEVENTS = "application/cloudevents+json"


@pytest.fixture
def processes() -> Iterator[list[ManagedProcess]]:
    started: list[ManagedProcess] = []
    yield started
    for process in started:
        process.stop()


def wait_topics(app: AppRuntime, topics: set[str]) -> None:
    """Until the runtime delivers exactly `topics` to the app."""
    wait_until(
        lambda: {s["topic"] for s in metadata_of(app).get("subscriptions", [])} == topics,
        timeout=WAIT,
        what=f"{app.app_id}'s subscriptions to be {sorted(topics)}",
    )


def events(records: Path, path: str) -> list[dict[str, Any]]:
    return [r for r in read(records, "event") if r["path"] == path]


def at_least(records: Path, count: int) -> list[dict[str, Any]] | None:
    """The events received, once there are `count`."""
    found = read(records, "event")
    return found if len(found) >= count else None


def deliveries(records: Path, path: str, event_id: str) -> int:
    return sum(1 for r in events(records, path) if r["event"]["id"] == event_id)


def test_a_fastapi_app_gets_cloudevents_and_its_answers_count(
    start_app: StartApp, sdk: Sdk, tmp_path: Path, processes: list[ManagedProcess]
) -> None:
    port, records = free_port(), tmp_path / "records.jsonl"
    shop = start_app("shop", app_port=port, app_protocol="http")
    publisher = start_app("publisher")
    processes.append(launch.app("fastapi_app", "shop", port, records))
    wait_topics(shop, {"orders", "orders-dead"})
    [orders] = [s for s in metadata_of(shop)["subscriptions"] if s["topic"] == "orders"]
    assert orders["deadLetterTopic"] == "orders-dead"
    assert orders["type"] == "PROGRAMMATIC"
    assert orders["rules"] == [{"path": "/events/pubsub/orders"}]

    answers = ["SUCCESS", "EMPTY", "DROP", "404", "RETRY-ONCE", "500-ONCE", "BOGUS-ONCE"]
    dapr = sdk.dapr(publisher)
    for answer in answers:
        dapr.publish_event(
            "pubsub", "orders", f'{{"answer": "{answer}"}}', data_content_type="application/json"
        )
    wait_until(
        lambda: len(events(records, "/events/pubsub/orders")) >= len(answers) + 3,
        timeout=WAIT,
        what="every message, the retried ones twice",
    )
    first = {r["event"]["data"]["answer"]: r for r in events(records, "/events/pubsub/orders")}
    ids = {answer: first[answer]["event"]["id"] for answer in answers}
    wait_until(
        lambda: len(events(records, "/events/pubsub/orders-dead")) >= 2,
        timeout=WAIT,
        what="the dropped messages on the dead-letter topic",
    )

    orders_path, dead_path = "/events/pubsub/orders", "/events/pubsub/orders-dead"
    assert {a: deliveries(records, orders_path, ids[a]) for a in answers} == {
        "SUCCESS": 1,
        "EMPTY": 1,
        "DROP": 1,
        "404": 1,
        "RETRY-ONCE": 2,
        "500-ONCE": 2,
        "BOGUS-ONCE": 2,
    }
    dead = sorted(r["event"]["data"]["answer"] for r in events(records, dead_path))
    assert dead == ["404", "DROP"]
    delivered = first["SUCCESS"]
    assert delivered["method"] == "POST"
    assert delivered["headers"]["content-type"] == CLOUDEVENTS
    assert delivered["headers"]["pubsubname"] == "pubsub"
    event = delivered["event"]
    assert event["data"] == {"answer": "SUCCESS"}
    assert (event["type"], event["specversion"], event["source"]) == (
        "com.dapr.event.sent",
        "1.0",
        "publisher",
    )
    assert (event["topic"], event["pubsubname"]) == ("orders", "pubsub")
    assert event["datacontenttype"] == "application/json"


def test_a_plain_http_app_with_routing_rules_and_a_declarative_subscription(
    start_app: StartApp, sdk: Sdk, tmp_path: Path, processes: list[ManagedProcess]
) -> None:
    port, records = free_port(), tmp_path / "records.jsonl"
    declarative = subscription("returns", "returns", default="/returns", scopes=["depot"])
    depot = start_app(
        "depot",
        app_port=port,
        app_protocol="http",
        resources=Resources(documents={"returns.yaml": declarative}),
    )
    publisher = start_app("publisher")
    processes.append(launch.app("plain_http_app", "depot", port, records))
    wait_topics(depot, {"shipments", "returns"})
    kinds = {s["topic"]: s["type"] for s in metadata_of(depot)["subscriptions"]}
    assert kinds == {"shipments": "PROGRAMMATIC", "returns": "DECLARATIVE"}

    dapr = sdk.dapr(publisher)
    for topic, speed in (("shipments", "express"), ("shipments", "standard"), ("returns", "")):
        dapr.publish_event(
            "pubsub", topic, f'{{"speed": "{speed}"}}', data_content_type="application/json"
        )
    received = wait_until(lambda: at_least(records, 3), timeout=WAIT, what="the 3 messages")

    routes = sorted((r["path"], r["event"]["data"]["speed"]) for r in received)
    assert routes == [
        ("/returns", ""),
        ("/shipments/express", "express"),
        ("/shipments/standard", "standard"),
    ]
    assert {r["headers"]["content-type"] for r in received} == {CLOUDEVENTS}


def test_an_app_without_a_subscribe_route_gets_only_declarative_subscriptions(
    start_app: StartApp, sdk: Sdk, tmp_path: Path, processes: list[ManagedProcess]
) -> None:
    """An app without `/dapr/subscribe` answers it 404, which means no subscriptions of its
    own (as a gRPC app's UNIMPLEMENTED does): the declarative one is delivered."""
    port, records = free_port(), tmp_path / "records.jsonl"
    app: AppRuntime = start_app(
        "billing",
        app_port=port,
        app_protocol="http",
        resources=Resources(
            documents={"invoices.yaml": subscription("invoices", "invoices", default="/invoices")}
        ),
    )
    publisher = start_app("publisher")
    processes.append(
        launch.app("plain_http_app", "billing", port, records, {"NO_SUBSCRIBE_ROUTE": "1"})
    )
    wait_topics(app, {"invoices"})
    sdk.dapr(publisher).publish_event("pubsub", "invoices", '{"speed": ""}')
    [received] = wait_until(lambda: at_least(records, 1), timeout=WAIT, what="the invoice")
    assert received["path"] == "/invoices"
