"""Payment's records in the state store, and the commands that change them.

Keys (the store has `keyPrefix: none`, so the names are the service's own):
- `payment:charge:<sagaId>`: the saga's `Payment`, with the reply each of its commands got;
  the saga is the charge's idempotency key.
"""

from __future__ import annotations

from dapr.clients import DaprClient

from services.common.state import SagaRecords
from services.contracts.messages import ChargePayment, RefundPayment, Reply
from services.contracts.names import EventType
from services.payment import rules
from services.payment.rules import Payment

CHARGES = SagaRecords("payment", "charge", Payment)


def charge(client: DaprClient, limit_cents: int, command: ChargePayment) -> tuple[EventType, Reply]:
    return CHARGES.answer(
        client, command, lambda payment: rules.charge(command, payment, limit_cents)
    )


def refund(client: DaprClient, command: RefundPayment) -> tuple[EventType, Reply]:
    return CHARGES.answer(client, command, lambda payment: rules.refund(command, payment))
