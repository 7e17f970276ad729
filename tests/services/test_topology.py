"""The topology is what the apps do: each app's callback server lists exactly the
subscriptions the topology gives it, every command and reply of the saga has its model
and its topic, and the longest order id still makes identifiers of every derived id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest.mock import MagicMock

import pytest
from dapr.ext.grpc import App
from pydantic import TypeAdapter

from services.contracts.messages import (
    IDENTIFIER_MAX_LENGTH,
    MAX_ORDER_ID_LENGTH,
    Identifier,
    InvalidMessage,
    OrderPlaced,
)
from services.contracts.names import (
    PUBSUB,
    AppId,
    CompensationName,
    CompletionName,
    StepName,
    approval_instance_id,
    command_id,
    saga_instance_id,
)
from services.contracts.topology import (
    COMMAND_TOPICS,
    COMMANDS,
    DEAD_LETTER_INBOX,
    DEAD_LETTER_TOPICS,
    REPLIES,
    SAGA_COMPLETIONS,
    SAGA_STEPS,
    SUBSCRIPTIONS,
    published_topics,
    subscribed_topics,
)
from services.inventory.app import build_app as inventory_app
from services.orchestrator.subscriptions import OrchestratorSubscriptions
from services.orchestrator.subscriptions import build_app as orchestrator_app
from services.orchestrator.workflow_io import SagaConfig
from services.payment.app import build_app as payment_app
from services.shipping.app import build_app as shipping_app

APPS: dict[AppId, Callable[[], App]] = {
    AppId.ORCHESTRATOR: lambda: orchestrator_app(
        OrchestratorSubscriptions(MagicMock(), MagicMock(), SagaConfig())
    ),
    AppId.INVENTORY: lambda: inventory_app(MagicMock()),
    AppId.PAYMENT: lambda: payment_app(MagicMock(), 500_000, MagicMock()),
    AppId.SHIPPING: lambda: shipping_app(MagicMock(), frozenset({"US"})),
}


def _listed(app: App) -> dict[str, dict[str, Any]]:
    """What the app's callback server tells its sidecar (ListTopicSubscriptions)."""
    listed = app._servicer.ListTopicSubscriptions(None, None)
    return {
        sub.topic: {
            "pubsub": sub.pubsub_name,
            "default": sub.routes.default,
            "rules": [(rule.match, rule.path) for rule in sub.routes.rules],
            "deadLetterTopic": sub.dead_letter_topic,
        }
        for sub in listed.subscriptions
    }


@pytest.mark.parametrize("app_id", list(AppId))
def test_each_app_subscribes_exactly_as_the_topology_says(app_id: AppId) -> None:
    expected: dict[str, dict[str, Any]] = {
        str(s.topic): {
            "pubsub": PUBSUB,
            "default": str(s.topic) if s.routes else "",
            "rules": [(f'event.type == "{r.event_type}"', r.handler) for r in s.routes],
            "deadLetterTopic": s.dead_letter_topic,
        }
        for s in SUBSCRIPTIONS[app_id]
    }
    if app_id == DEAD_LETTER_INBOX:
        inbox: dict[str, Any] = {
            "pubsub": PUBSUB,
            "default": "",
            "rules": [],
            "deadLetterTopic": "",
        }
        expected |= {topic: inbox for topic in DEAD_LETTER_TOPICS}

    assert _listed(APPS[app_id]()) == expected
    assert subscribed_topics(app_id) == set(expected)


def test_every_saga_command_and_reply_has_its_model_and_its_service() -> None:
    commands = [t for s in SAGA_STEPS for t in (s.command, s.compensation.command)]
    commands += [c.command for c in SAGA_COMPLETIONS]
    replies = [t for s in SAGA_STEPS for t in (s.success, s.failure, s.compensation.ack)]
    replies += [c.ack for c in SAGA_COMPLETIONS]

    assert sorted(commands) == sorted(COMMANDS) == sorted(COMMAND_TOPICS)
    assert sorted(replies) == sorted(REPLIES)
    assert [s.name for s in SAGA_STEPS] == [StepName.RESERVE, StepName.CHARGE, StepName.SHIP]
    assert {s.compensation.name for s in SAGA_STEPS} == set(CompensationName)
    assert [c.name for c in SAGA_COMPLETIONS] == list(CompletionName)
    for app_id in (AppId.INVENTORY, AppId.PAYMENT, AppId.SHIPPING):
        assert published_topics(app_id) >= {"saga-replies"}
    assert set(COMMAND_TOPICS.values()) <= published_topics(AppId.ORCHESTRATOR)
    assert {
        f"{s.topic}-dead-letter" for subscriptions in SUBSCRIPTIONS.values() for s in subscriptions
    } == DEAD_LETTER_TOPICS


def test_the_longest_order_id_makes_identifiers_of_every_id_derived_from_it() -> None:
    longest = "L" * MAX_ORDER_ID_LENGTH
    saga_id = saga_instance_id(longest)
    derived = [approval_instance_id(longest), saga_id] + [
        command_id(saga_id, action) for action in (*StepName, *CompensationName, *CompletionName)
    ]

    assert max(len(d) for d in derived) == IDENTIFIER_MAX_LENGTH
    for derived_id in derived:
        TypeAdapter(Identifier).validate_python(derived_id)


def test_an_order_id_one_too_long_is_refused_by_the_order_contract() -> None:
    placed = {
        "customerId": "c",
        "items": [{"sku": "SKU-1", "quantity": 1, "unitPriceCents": 1}],
        "paymentToken": "tok_topologyTopologyTopo",
        "shippingAddress": {"line1": "1", "city": "c", "postalCode": "1", "country": "US"},
    }
    OrderPlaced.parse({**placed, "orderId": "L" * MAX_ORDER_ID_LENGTH})

    with pytest.raises(InvalidMessage) as refused:
        OrderPlaced.parse({**placed, "orderId": "L" * (MAX_ORDER_ID_LENGTH + 1)})

    assert refused.value.reason.startswith(
        f"invalid OrderPlaced: orderId: longer than {MAX_ORDER_ID_LENGTH} characters"
    )
