"""Who sends what to whom: the platform's message flow, each fact defined here once.

- Per app, its subscriptions (`SUBSCRIPTIONS`): the topic, the event types the app takes
  there and the handler each one reaches, and the dead-letter topic; and the topics it
  publishes (`published_topics`).
- Per command and reply type, its payload model (`COMMANDS`, `REPLIES`); per command, the
  topic that carries it (`COMMAND_TOPICS`).
- Per saga step, its command, its success and failure replies and its compensation with
  the reply that acknowledges it (`SAGA_STEPS`); what the saga does once its order shipped
  (`SAGA_COMPLETIONS`).
- How a saga's outcome is announced (`OUTCOME_EVENT_TYPES`, `STATUS_EVENT_TYPES`), which
  workflow runtime statuses are final (`TERMINAL_RUNTIME_STATUSES`), and the test cards
  whose behaviour the payment service fixes.

The apps build their subscriptions from these tables (`services.common.messaging`), so a
route cannot differ between an app and what the launchers, harnesses and charts expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from services.contracts.messages import (
    CancelShipment,
    ChargePayment,
    Command,
    CommitInventory,
    CreateShipment,
    InvalidMessage,
    InventoryCommitted,
    InventoryRejected,
    InventoryReleased,
    InventoryReserved,
    Outcome,
    PaymentCharged,
    PaymentDeclined,
    PaymentRefunded,
    RefundPayment,
    ReleaseInventory,
    Reply,
    ReserveInventory,
    ShipmentCancelled,
    ShipmentCreated,
    ShipmentFailed,
)
from services.contracts.names import (
    AppId,
    CompensationName,
    CompletionName,
    EventType,
    StepName,
    Topic,
    dead_letter_topic,
)

# --- payloads -------------------------------------------------------------------------

COMMANDS: Mapping[EventType, type[Command]] = MappingProxyType(
    {
        EventType.INVENTORY_RESERVE: ReserveInventory,
        EventType.INVENTORY_RELEASE: ReleaseInventory,
        EventType.INVENTORY_COMMIT: CommitInventory,
        EventType.PAYMENT_CHARGE: ChargePayment,
        EventType.PAYMENT_REFUND: RefundPayment,
        EventType.SHIPPING_CREATE: CreateShipment,
        EventType.SHIPPING_CANCEL: CancelShipment,
    }
)

REPLIES: Mapping[EventType, type[Reply]] = MappingProxyType(
    {
        EventType.INVENTORY_RESERVED: InventoryReserved,
        EventType.INVENTORY_REJECTED: InventoryRejected,
        EventType.INVENTORY_RELEASED: InventoryReleased,
        EventType.INVENTORY_COMMITTED: InventoryCommitted,
        EventType.PAYMENT_CHARGED: PaymentCharged,
        EventType.PAYMENT_DECLINED: PaymentDeclined,
        EventType.PAYMENT_REFUNDED: PaymentRefunded,
        EventType.SHIPPING_CREATED: ShipmentCreated,
        EventType.SHIPPING_FAILED: ShipmentFailed,
        EventType.SHIPPING_CANCELLED: ShipmentCancelled,
    }
)


def parse_reply(event_type: str, data: bytes | str | dict[str, Any]) -> Reply:
    """The typed reply for a `saga-replies` event, or `InvalidMessage`."""
    try:
        model = REPLIES[EventType(event_type)]
    except (ValueError, KeyError):
        raise InvalidMessage(f"unknown reply type '{event_type}'") from None
    return model.parse(data)


# --- the saga's steps -----------------------------------------------------------------


@dataclass(frozen=True)
class Compensation:
    """The undo of a step: a command that is a no-op when the step left nothing behind."""

    name: CompensationName
    command: EventType
    ack: EventType


@dataclass(frozen=True)
class SagaStep:
    """A step that sends a command to a service and waits for one of its two replies."""

    name: StepName
    command: EventType
    success: EventType
    failure: EventType
    compensation: Compensation


# In the order the saga runs them; the approval (a child workflow, no command) comes
# between reserve and charge when the order needs one.
SAGA_STEPS: tuple[SagaStep, ...] = (
    SagaStep(
        StepName.RESERVE,
        EventType.INVENTORY_RESERVE,
        EventType.INVENTORY_RESERVED,
        EventType.INVENTORY_REJECTED,
        Compensation(
            CompensationName.RELEASE, EventType.INVENTORY_RELEASE, EventType.INVENTORY_RELEASED
        ),
    ),
    SagaStep(
        StepName.CHARGE,
        EventType.PAYMENT_CHARGE,
        EventType.PAYMENT_CHARGED,
        EventType.PAYMENT_DECLINED,
        Compensation(CompensationName.REFUND, EventType.PAYMENT_REFUND, EventType.PAYMENT_REFUNDED),
    ),
    SagaStep(
        StepName.SHIP,
        EventType.SHIPPING_CREATE,
        EventType.SHIPPING_CREATED,
        EventType.SHIPPING_FAILED,
        Compensation(
            CompensationName.CANCEL_SHIPMENT,
            EventType.SHIPPING_CANCEL,
            EventType.SHIPPING_CANCELLED,
        ),
    ),
)


@dataclass(frozen=True)
class Completion:
    """What the saga does after its pivot, the shipment: a command that cannot be refused,
    only be late (its reply is the acknowledgement), so it is sent until acknowledged and
    never compensated. Until then the saga is not completed."""

    name: CompletionName
    command: EventType
    ack: EventType


# After the last step: the shipment consumes its reservation (the units leave the stock).
SAGA_COMPLETIONS: tuple[Completion, ...] = (
    Completion(CompletionName.COMMIT, EventType.INVENTORY_COMMIT, EventType.INVENTORY_COMMITTED),
)

# --- subscriptions --------------------------------------------------------------------

# Dapr's CloudEvent type for a message published without `cloudevent.type` metadata:
# taken where upstream systems publish, so that a plain `dapr publish` works.
DAPR_DEFAULT_TYPE = "com.dapr.event.sent"


@dataclass(frozen=True)
class Route:
    """A routing rule: events of `event_type` reach the handler named `handler`, which is
    also the route's path (the SDK names a rule's path after its handler function)."""

    event_type: EventType
    handler: str


@dataclass(frozen=True)
class Subscription:
    """One app's subscription to one topic.

    With `routes`, the sidecar routes each event type to its handler and `handler` is the
    default route, which dead-letters the types no rule matched. Without, `handler` gets
    every event and takes only the types in `accepts`. Either way an unprocessable message
    goes to `dead_letter_topic`, with the reason.
    """

    topic: Topic
    handler: str
    routes: tuple[Route, ...] = ()
    accepts: frozenset[str] = frozenset()

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic(self.topic)

    @property
    def event_types(self) -> frozenset[str]:
        """The event types the app processes on this topic."""
        return self.accepts | {route.event_type for route in self.routes}

    @property
    def handlers(self) -> tuple[str, ...]:
        """The names of the handlers, the default route's first."""
        return (self.handler, *(route.handler for route in self.routes))


def _commands(topic: Topic, unknown: str, *routes: Route) -> tuple[Subscription, ...]:
    """A command service's one subscription: a route per command, `unknown` for the rest."""
    return (Subscription(topic, unknown, routes=routes),)


SUBSCRIPTIONS: Mapping[AppId, tuple[Subscription, ...]] = MappingProxyType(
    {
        AppId.ORCHESTRATOR: (
            Subscription(
                Topic.ORDERS,
                "on_order_placed",
                accepts=frozenset({EventType.ORDER_PLACED, DAPR_DEFAULT_TYPE}),
            ),
            Subscription(Topic.SAGA_REPLIES, "on_saga_reply", accepts=frozenset(REPLIES)),
            Subscription(
                Topic.APPROVALS,
                "on_approval_decided",
                accepts=frozenset({EventType.APPROVAL_DECIDED, DAPR_DEFAULT_TYPE}),
            ),
        ),
        AppId.INVENTORY: _commands(
            Topic.INVENTORY_COMMANDS,
            "unknown_inventory_command",
            Route(EventType.INVENTORY_RESERVE, "reserve_inventory"),
            Route(EventType.INVENTORY_RELEASE, "release_inventory"),
            Route(EventType.INVENTORY_COMMIT, "commit_inventory"),
        ),
        AppId.PAYMENT: _commands(
            Topic.PAYMENT_COMMANDS,
            "unknown_payment_command",
            Route(EventType.PAYMENT_CHARGE, "charge_payment"),
            Route(EventType.PAYMENT_REFUND, "refund_payment"),
        ),
        AppId.SHIPPING: _commands(
            Topic.SHIPPING_COMMANDS,
            "unknown_shipping_command",
            Route(EventType.SHIPPING_CREATE, "create_shipment"),
            Route(EventType.SHIPPING_CANCEL, "cancel_shipment"),
        ),
    }
)

# The topic of each command: the one its service subscribes to.
COMMAND_TOPICS: Mapping[EventType, Topic] = MappingProxyType(
    {
        route.event_type: subscription.topic
        for subscriptions in SUBSCRIPTIONS.values()
        for subscription in subscriptions
        for route in subscription.routes
        if route.event_type in COMMANDS
    }
)

# What each app publishes besides its own dead letters. The orchestrator's management API
# places orders on `orders` as an upstream system would.
_PUBLISHES: Mapping[AppId, frozenset[str]] = MappingProxyType(
    {
        AppId.ORCHESTRATOR: frozenset({Topic.ORDERS, Topic.ORDER_STATUS, *COMMAND_TOPICS.values()}),
        AppId.INVENTORY: frozenset({Topic.SAGA_REPLIES}),
        AppId.PAYMENT: frozenset({Topic.SAGA_REPLIES}),
        AppId.SHIPPING: frozenset({Topic.SAGA_REPLIES}),
    }
)

# Every topic an app dead-letters to.
DEAD_LETTER_TOPICS: frozenset[str] = frozenset(
    subscription.dead_letter_topic
    for subscriptions in SUBSCRIPTIONS.values()
    for subscription in subscriptions
)

# The app that keeps the dead-letter inbox: it subscribes, with no routes and no dead-letter
# topic of its own, to every topic above (services/orchestrator/dead_letters.py).
DEAD_LETTER_INBOX = AppId.ORCHESTRATOR


def subscribed_topics(app_id: AppId | str) -> frozenset[str]:
    """The topics the app must have registered with its sidecar to receive its messages."""
    own = frozenset(s.topic for s in SUBSCRIPTIONS[AppId(app_id)])
    return own | DEAD_LETTER_TOPICS if app_id == DEAD_LETTER_INBOX else own


def published_topics(app_id: AppId | str) -> frozenset[str]:
    """The topics the app publishes on, its subscriptions' dead-letter topics included."""
    own = SUBSCRIPTIONS[AppId(app_id)]
    return _PUBLISHES[AppId(app_id)] | {s.dead_letter_topic for s in own}


def subscription(app_id: AppId | str, topic: Topic | str) -> Subscription:
    """The app's subscription to `topic` (KeyError when it has none)."""
    for candidate in SUBSCRIPTIONS[AppId(app_id)]:
        if candidate.topic == topic:
            return candidate
    raise KeyError(f"{app_id} does not subscribe to {topic}")


# --- outcomes and statuses ------------------------------------------------------------

# The event a saga publishes on `order-status` when it ends, by outcome.
OUTCOME_EVENT_TYPES: Mapping[Outcome, EventType] = MappingProxyType(
    {
        "completed": EventType.ORDER_COMPLETED,
        "rejected": EventType.ORDER_FAILED,
        "compensated": EventType.ORDER_COMPENSATED,
        "compensation_failed": EventType.ORDER_FAILED,
        "cancelled": EventType.ORDER_CANCELLED,
    }
)
# The order-status events that end a saga: exactly one of them per saga.
STATUS_EVENT_TYPES: frozenset[EventType] = frozenset(OUTCOME_EVENT_TYPES.values())

# The workflow runtime statuses (`WorkflowStatus` names) after which a run does nothing
# more: it takes no events, and its instance id may be reused.
TERMINAL_RUNTIME_STATUSES: frozenset[str] = frozenset({"COMPLETED", "FAILED", "TERMINATED"})

# --- test data ------------------------------------------------------------------------

# Cards whose outcome the payment service fixes, for tests and demos: the declining one is
# always declined; the good one is charged whenever the amount is within the limit. They
# reach the payment service's vault only (`POST /v1/tokens`), which gives a token for them;
# orders and charges carry that token, and the vault knows which card it stands for.
GOOD_TEST_CARD = "4242424242424242"
DECLINING_TEST_CARD = "4000000000000002"
