"""What happens to a message the app answers RETRY: daprd has no built-in inbound retry.

Without a Resiliency policy for the pubsub, daprd gives the message up after that one
delivery: to the subscription's dead-letter topic when it has one, else it is dropped
(pkg/runtime/subscription: the policy runner runs once, then the dead letter). With an
inbound retry policy, its own or a default one (`DefaultPubsubComponentInboundRetryPolicy`),
it is delivered again as the policy says, then dead-lettered. An app that answers
UNIMPLEMENTED (the SDK's answer for a route it has no handler for) has the message dropped,
not dead-lettered (postman/grpc).
"""

from __future__ import annotations

import json

from services.contracts.names import PUBSUB
from testkit.observer import data_of, sub
from testkit.resources import resiliency, subscription
from tests.fidelity.conftest import Subscriber
from tests.fidelity.runtimes import Resources, Sdk, StartApp, wait_subscribed

SUBSCRIPTIONS = [
    sub("invoices", behaviour="retry", dead_letter_topic="invoices-dead"),
    sub("invoices-dead", handler="dead-letters"),
]


def test_without_a_retry_policy_a_retry_answer_dead_letters_the_message_at_once(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    app = subscriber("billing", SUBSCRIPTIONS)
    billing = start_app("billing", app_port=app.port, resources=Resources(resiliency=False))
    wait_subscribed(billing, {"invoices", "invoices-dead"})

    sdk.dapr(billing).publish_event(
        PUBSUB, "invoices", json.dumps({"n": 1}), data_content_type="application/json"
    )

    [dead] = app.wait_for(lambda e: e["handler"] == "dead-letters", timeout=20)
    attempts = [e for e in app.events() if e["handler"] == "on-invoices"]
    assert [(e["id"], e["outcome"]) for e in attempts] == [(dead["id"], "retry")]
    assert dead["topic"] == "invoices-dead"
    assert dead["extensions"]["topic"] == "invoices"
    assert data_of(dead) == {"n": 1}


def test_with_a_retry_policy_a_retry_answer_is_retried_as_it_says_then_dead_lettered(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    app = subscriber("billing", SUBSCRIPTIONS)
    retries = Resources(resiliency=False, documents={"retries.yaml": resiliency(max_retries=2)})
    billing = start_app("billing", app_port=app.port, resources=retries)
    wait_subscribed(billing, {"invoices", "invoices-dead"})

    sdk.dapr(billing).publish_event(PUBSUB, "invoices", "never accepted")

    [dead] = app.wait_for(lambda e: e["handler"] == "dead-letters", timeout=20)
    attempts = [e for e in app.events() if e["handler"] == "on-invoices"]
    assert [(e["attempt"], e["id"]) for e in attempts] == [(n, dead["id"]) for n in (1, 2, 3)]
    assert dead["data_text"] == "never accepted"


def test_a_default_inbound_retry_policy_applies_to_a_pubsub_without_a_target(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    app = subscriber("billing", SUBSCRIPTIONS)
    document = resiliency(max_retries=1)
    policies = document["spec"]["policies"]["retries"]
    policies["DefaultPubsubComponentInboundRetryPolicy"] = policies.pop("quick")
    document["spec"]["targets"] = {}
    defaults = Resources(resiliency=False, documents={"defaults.yaml": document})
    billing = start_app("billing", app_port=app.port, resources=defaults)
    wait_subscribed(billing, {"invoices", "invoices-dead"})

    sdk.dapr(billing).publish_event(PUBSUB, "invoices", "never accepted")

    [dead] = app.wait_for(lambda e: e["handler"] == "dead-letters", timeout=20)
    attempts = [e for e in app.events() if e["handler"] == "on-invoices"]
    assert [(e["attempt"], e["id"]) for e in attempts] == [(1, dead["id"]), (2, dead["id"])]


def test_a_message_the_app_has_no_handler_for_is_dropped_not_dead_lettered(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    app = subscriber("billing", [sub("stray-dead", handler="dead-letters")])
    stray = subscription("stray", "stray", default="/nowhere", dead_letter_topic="stray-dead")
    documents = Resources(resiliency=False, documents={"stray.yaml": stray})
    billing = start_app("billing", app_port=app.port, resources=documents)
    wait_subscribed(billing, {"stray", "stray-dead"})
    client = sdk.dapr(billing)

    client.publish_event(PUBSUB, "stray", "nobody handles this")
    [unrouted] = app.wait_for(lambda e: e["outcome"] == "unrouted")
    client.publish_event(PUBSUB, "stray-dead", "marker")  # after any dead letter of it

    app.wait_for(lambda e: e["data_text"] == "marker")
    assert unrouted["path"] == "/nowhere"
    dead_letters = [e["data_text"] for e in app.events() if e["handler"] == "dead-letters"]
    assert dead_letters == ["marker"]  # daprd drops an UNIMPLEMENTED answer outright
