"""Payment's rules as pure functions: when a charge is declined, and refunds that never
exceed the charge.

Decline rules, checked in this order:
- a token the vault cannot resolve (unknown, or sealed under another key) declines;
- the topology's `DECLINING_TEST_CARD` always declines: the charge carries a token, and the
  vault says which card it stands for (services/payment/vault.py);
- an amount above the customer limit (`PAYMENT_LIMIT_CENTS`, default 500_000 cents; the
  same limit for every customer, per charge) declines.

The saga is the idempotency key: a saga's payment record goes `open` -> `charged` ->
`refunded`, or straight from `open` to `refunded` when a refund overtakes its charge (the
saga timed out and compensated). `refunded` is final: a charge arriving after it is
declined, so a late redelivery can never charge an order that was already compensated.
"""

from __future__ import annotations

from typing import Literal

from services.common.outcomes import Outcome, SagaRecord, reply_to, saga_scoped_id
from services.contracts.messages import (
    ChargePayment,
    PaymentCharged,
    PaymentDeclined,
    PaymentRefunded,
    RefundPayment,
)
from services.contracts.names import EventType
from services.contracts.topology import DECLINING_TEST_CARD
from services.payment.vault import CardOnFile

DEFAULT_LIMIT_CENTS = 500_000


class Payment(SagaRecord):
    """A saga's payment (see the module docstring for its lifecycle)."""

    status: Literal["open", "charged", "refunded"] = "open"
    charge_id: str | None = None
    customer_id: str | None = None
    amount_cents: int = 0
    refunded_cents: int = 0


def decline_reason(command: ChargePayment, card: CardOnFile | None, limit_cents: int) -> str | None:
    """Why the charge is declined, or None when it goes through. The reason travels in the
    reply into the saga's history: it names a card by brand and last four digits only."""
    if card is None:
        return f"the vault cannot resolve payment token '{command.payment_token}'"
    if card.number == DECLINING_TEST_CARD:
        return (
            f"card declined ({card.brand} ending {card.last4} is the test card that always "
            "declines)"
        )
    if command.amount_cents > limit_cents:
        return (
            f"amount {command.amount_cents} cents is over the limit of {limit_cents} cents "
            f"for customer '{command.customer_id}'"
        )
    return None


def charge(
    command: ChargePayment, payment: Payment, limit_cents: int, card: CardOnFile | None
) -> Outcome[Payment]:
    """The charge of the card behind the command's token (`card`, None when the vault has
    none)."""
    if payment.status == "charged":
        return Outcome(EventType.PAYMENT_CHARGED, _charged_reply(command, payment))
    reason = (
        f"the payment of saga '{command.saga_id}' was already refunded"
        if payment.status == "refunded"
        else decline_reason(command, card, limit_cents)
    )
    if reason is not None:
        return Outcome(
            EventType.PAYMENT_DECLINED, reply_to(command, PaymentDeclined, reason=reason)
        )
    charged = payment.model_copy(
        update={
            "status": "charged",
            "charge_id": saga_scoped_id("ch_", command.saga_id),
            "customer_id": command.customer_id,
            "amount_cents": command.amount_cents,
        }
    )
    return Outcome(EventType.PAYMENT_CHARGED, _charged_reply(command, charged), charged)


def _charged_reply(command: ChargePayment, payment: Payment) -> PaymentCharged:
    return reply_to(
        command, PaymentCharged, charge_id=payment.charge_id, amount_cents=payment.amount_cents
    )


def refund(command: RefundPayment, payment: Payment) -> Outcome[Payment]:
    """Refunds what is left of the charge: all of it the first time, 0 after that, and 0
    (closing the payment) when nothing was charged."""
    refundable = payment.amount_cents - payment.refunded_cents
    refunded = payment.model_copy(
        update={"status": "refunded", "refunded_cents": payment.amount_cents}
    )
    reply = reply_to(
        command, PaymentRefunded, charge_id=payment.charge_id, refunded_cents=refundable
    )
    return Outcome(
        EventType.PAYMENT_REFUNDED, reply, None if payment.status == "refunded" else refunded
    )
