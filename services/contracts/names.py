"""App ids, component names, topics and CloudEvent types, as fixed by the architecture.

Every message is a CloudEvent; its `type` attribute (set on publish through the
`cloudevent.type` metadata) names what it is, and subscribers route on it with rules.
"""

from __future__ import annotations

from enum import StrEnum

PUBSUB = "pubsub"
STATESTORE = "statestore"


class AppId(StrEnum):
    ORCHESTRATOR = "orchestrator"
    INVENTORY = "inventory"
    PAYMENT = "payment"
    SHIPPING = "shipping"


class Topic(StrEnum):
    ORDERS = "orders"
    INVENTORY_COMMANDS = "inventory-commands"
    PAYMENT_COMMANDS = "payment-commands"
    SHIPPING_COMMANDS = "shipping-commands"
    SAGA_REPLIES = "saga-replies"
    APPROVALS = "approvals"
    ORDER_STATUS = "order-status"


def dead_letter_topic(topic: Topic | str) -> str:
    """Where a topic's unprocessable messages go, with the reason."""
    return f"{topic}-dead-letter"


class EventType(StrEnum):
    ORDER_PLACED = "order.placed"
    # commands
    INVENTORY_RESERVE = "inventory.reserve"
    INVENTORY_RELEASE = "inventory.release"
    INVENTORY_COMMIT = "inventory.commit"
    PAYMENT_CHARGE = "payment.charge"
    PAYMENT_REFUND = "payment.refund"
    SHIPPING_CREATE = "shipping.create"
    SHIPPING_CANCEL = "shipping.cancel"
    # replies
    INVENTORY_RESERVED = "inventory.reserved"
    INVENTORY_REJECTED = "inventory.rejected"
    INVENTORY_RELEASED = "inventory.released"
    INVENTORY_COMMITTED = "inventory.committed"
    PAYMENT_CHARGED = "payment.charged"
    PAYMENT_DECLINED = "payment.declined"
    PAYMENT_REFUNDED = "payment.refunded"
    SHIPPING_CREATED = "shipping.created"
    SHIPPING_FAILED = "shipping.failed"
    SHIPPING_CANCELLED = "shipping.cancelled"
    # approvals and status
    APPROVAL_DECIDED = "approval.decided"
    APPROVAL_REQUESTED = "approval.requested"
    ORDER_COMPLETED = "order.completed"
    ORDER_FAILED = "order.failed"
    ORDER_COMPENSATED = "order.compensated"
    # A saga cancelled on request (`POST /v1/orders/{id}/cancel`), its steps compensated.
    ORDER_CANCELLED = "order.cancelled"
    # The `stock_monitor` workflow's alert, on `order-status`: a SKU's available stock fell
    # below the monitor's threshold. Data: the SKU's `StockLevel` as the inventory keeps it.
    # Sent once per drop: a SKU alerts again only after it was seen back at or above it.
    INVENTORY_LOW_STOCK = "inventory.low-stock"
    DEAD_LETTER = "dead-letter"


class WorkflowName(StrEnum):
    ORDER_SAGA = "order_saga"
    APPROVAL = "approval"
    ORDER_BATCH = "order_batch"
    STOCK_MONITOR = "stock_monitor"


# The external event a workflow waits for when a human decides on an approval.
APPROVAL_DECISION_EVENT = "approval_decision"


class StepName(StrEnum):
    """The saga's steps, in order, as `failedStep` names them."""

    RESERVE = "reserve"
    APPROVAL = "approval"
    CHARGE = "charge"
    SHIP = "ship"


class CompensationName(StrEnum):
    RELEASE = "release"
    REFUND = "refund"
    CANCEL_SHIPMENT = "cancel_shipment"


class CompletionName(StrEnum):
    """What a saga does once its order shipped (its pivot): never compensated, sent until
    acknowledged."""

    COMMIT = "commit"


def saga_instance_id(order_id: str) -> str:
    return f"order-{order_id}"


def approval_instance_id(order_id: str) -> str:
    return f"approval-{order_id}"


def command_id(saga_id: str, action: StepName | CompensationName | CompletionName) -> str:
    """A step's or compensation's command id, the same on every resend, so the services
    recognise a resend and the reply finds the waiting saga under that name."""
    return f"{saga_id}:{action}"


# State keys shared across apps. The state store uses `keyPrefix: none`, so each service
# names its own keys; the orchestrator reads the inventory's stock keys (never writes them)
# for the stock monitor and the management API.
SKU_CATALOGUE_KEY = "inventory:skus"


def stock_key(sku: str) -> str:
    return f"inventory:stock:{sku}"
