"""Publish settings daprd honours: `ttlInSeconds` and bulk publishing.

- `ttlInSeconds`: daprd writes the CloudEvent's `expiration` (now + ttl) and, on delivery,
  gives up an expired message without calling the app: to the subscription's dead-letter
  topic when it has one (pkg/runtime/subscription, `HasExpired`), where, still expired, it
  is given up again, so no handler ever sees it.
- Bulk publish over gRPC stores every entry or answers an error: entry ids must be present
  and unique, and an entry that is not a valid CloudEvent fails the whole request before
  anything is published (`failedEntries` lists entries only for a component that publishes
  in bulk itself and fails some of them: neither `pubsub.redis` nor the sidecar's).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import grpc
import pytest
from dapr.clients import BulkPublishEntry
from dapr.clients.exceptions import DaprGrpcError

from services.contracts.names import PUBSUB
from testkit.observer import sub
from testkit.polling import wait_until
from tests.fidelity.conftest import Subscriber
from tests.fidelity.runtimes import Resources, Sdk, StartApp, wait_subscribed


def test_a_message_whose_ttl_passed_before_delivery_reaches_no_handler(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    offers = [
        sub("offers", dead_letter_topic="offers-dead"),
        sub("offers-dead", handler="dead-letters"),
    ]
    app = subscriber("shop", offers, start=False)  # not up yet: the messages wait
    runtime = start_app("shop", app_port=app.port, resources=Resources(resiliency=False))
    client = sdk.dapr(runtime)
    published = time.time()
    client.publish_event(PUBSUB, "offers", "stale", publish_metadata={"ttlInSeconds": "1"})
    client.publish_event(PUBSUB, "offers", "lasting", publish_metadata={"ttlInSeconds": "3600"})
    client.publish_event(PUBSUB, "offers", "no ttl")
    # daprd's expiration has whole seconds: the 1 s ttl has surely passed after 2.5 s.
    wait_until(lambda: time.time() > published + 2.5, what="the 1 s ttl to pass")

    app.start()

    delivered = app.wait_for(count=2)
    by_text = {e["data_text"]: e["extensions"] for e in delivered}
    assert sorted(by_text) == ["lasting", "no ttl"]
    assert "expiration" not in by_text["no ttl"]
    expiration = datetime.fromisoformat(by_text["lasting"]["expiration"].replace("Z", "+00:00"))
    assert abs((expiration - datetime.now(UTC)).total_seconds() - 3600) < 60
    assert {e["handler"] for e in delivered} == {"on-offers"}


def test_bulk_publish_stores_every_entry_or_refuses_the_request(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    app = subscriber("bulk", [sub("bulk")])
    runtime = start_app("bulk", app_port=app.port)
    wait_subscribed(runtime, {"bulk"})
    client = sdk.dapr(runtime)

    response = client.publish_events(PUBSUB, "bulk", ["a", "b"], data_content_type="text/plain")
    broken = [
        BulkPublishEntry(event="c", content_type="text/plain", entry_id="c"),
        BulkPublishEntry(event="{", content_type="application/cloudevents+json", entry_id="x"),
    ]
    twice = [BulkPublishEntry(event=e, entry_id="same") for e in ("d", "e")]
    refusals = []
    for entries in (broken, twice):
        with pytest.raises(DaprGrpcError) as caught:
            client.publish_events(PUBSUB, "bulk", entries, data_content_type="text/plain")
        refusals.append(caught.value.code())
    client.publish_event(PUBSUB, "bulk", "after", data_content_type="text/plain")

    assert response.failed_entries == []
    assert refusals == [grpc.StatusCode.INVALID_ARGUMENT] * 2
    app.wait_for(lambda e: e["data_text"] == "after")
    assert sorted(e["data_text"] for e in app.events()) == ["a", "after", "b"]
