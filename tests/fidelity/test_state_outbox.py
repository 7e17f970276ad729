"""The transactional outbox through `DaprClient.execute_state_transaction`: with
`outboxPublishPubsub` and `outboxPublishTopic` on the state store, each upsert of a
transaction publishes a CloudEvent to that topic (id `outbox-<uuid>`, the app id as source,
the `contentType` metadata as data content type, the caller's trace as `traceid`, the
upsert's metadata as attributes); an upsert of the same key marked `outbox.projection`
gives the message its data and is not stored; deletes publish nothing.
"""

from __future__ import annotations

import json

from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType

from services.contracts.names import PUBSUB, STATESTORE
from testkit.observer import data_of, sub
from tests.fidelity.conftest import Subscriber
from tests.fidelity.runtimes import Resources, Sdk, StartApp, wait_subscribed

TOPIC = "orders-outbox"
OUTBOX = Resources(
    metadata={STATESTORE: {"outboxPublishPubsub": PUBSUB, "outboxPublishTopic": TOPIC}}
)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
# The message's content type is the projection's; the stored upsert stays plain (daprd's
# state.redis stores an `application/json` value with RedisJSON, which Debian's Redis lacks).
JSON = {"contentType": "application/json"}


def test_a_transaction_publishes_each_upsert_and_stores_the_real_value(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    app = subscriber("orders", [sub(TOPIC)])
    runtime = start_app("orders", app_port=app.port, resources=OUTBOX)
    wait_subscribed(runtime, {TOPIC})
    client = sdk.dapr(runtime, [("traceparent", TRACEPARENT)])
    stored = {"order": 1, "card": "4111 1111 1111 1111"}
    client.save_state(STATESTORE, "gone", "to be deleted")

    client.execute_state_transaction(
        STATESTORE,
        [
            TransactionalStateOperation(
                key="order-1", data=json.dumps(stored), metadata={"tenant": "acme"}
            ),
            TransactionalStateOperation(
                key="order-1",
                data=json.dumps({"order": 1}),
                metadata={**JSON, "outbox.projection": "true"},
            ),
            TransactionalStateOperation(key="note-1", data="plain text"),
            TransactionalStateOperation(key="gone", operation_type=TransactionOperationType.delete),
        ],
    )

    events = {e["datacontenttype"]: e for e in app.wait_for(count=2)}
    projected, plain = events["application/json"], events["text/plain"]
    assert data_of(projected) == {"order": 1}  # the projection, not the stored value
    assert plain["data_text"] == "plain text"
    for event in (projected, plain):
        assert event["id"].startswith("outbox-")
        assert (event["source"], event["type"]) == ("orders", "com.dapr.event.sent")
        assert (event["topic"], event["extensions"]["topic"]) == (TOPIC, TOPIC)
        assert event["extensions"]["pubsubname"] == PUBSUB
        assert event["extensions"]["traceid"] == TRACEPARENT
    assert projected["extensions"]["tenant"] == "acme"  # the upsert's metadata travels
    assert json.loads(client.get_state(STATESTORE, "order-1").data) == stored
    assert client.get_state(STATESTORE, "gone").data == b""
