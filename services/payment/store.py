"""Payment's records in the state store, and the commands that change them.

Keys (the store has `keyPrefix: none`, so the names are the service's own):
- `payment:charge:<sagaId>`: the saga's `Payment`, with the reply each of its commands got;
  the saga is the charge's idempotency key.
- `payment:vault:<token>`: a tokenized card, its number sealed (services/payment/vault.py).
"""

from __future__ import annotations

from dapr.clients import DaprClient

from services.common.outcomes import Outcome
from services.common.state import SagaRecords
from services.contracts.messages import ChargePayment, RefundPayment, Reply
from services.contracts.names import EventType
from services.payment import rules
from services.payment.rules import Payment
from services.payment.vault import CardVault

CHARGES = SagaRecords("payment", "charge", Payment)


def charge(
    client: DaprClient, vault: CardVault, limit_cents: int, command: ChargePayment
) -> tuple[EventType, Reply]:
    """Charges the card the command's token stands for: the vault opens it here, and only
    here, for the rules to decide on."""

    def decide(payment: Payment) -> Outcome[Payment]:
        card = vault.card(command.payment_token) if payment.status == "open" else None
        return rules.charge(command, payment, limit_cents, card)

    return CHARGES.answer(client, command, decide)


def refund(client: DaprClient, command: RefundPayment) -> tuple[EventType, Reply]:
    return CHARGES.answer(client, command, lambda payment: rules.refund(command, payment))
