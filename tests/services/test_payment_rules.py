"""Payment's rules without Dapr: the decline rules (on the card the vault opened for the
charge's token), the saga as idempotency key, refunds that never exceed the charge."""

from __future__ import annotations

from services.contracts.messages import PaymentCharged, PaymentDeclined, PaymentRefunded
from services.contracts.names import EventType
from services.contracts.topology import DECLINING_TEST_CARD, GOOD_TEST_CARD
from services.payment import rules
from services.payment.rules import Payment
from services.payment.vault import CardOnFile
from tests.services.commands import TOKEN, charge, refund

OPEN = Payment(saga_id="s1")
LIMIT = 500_000


def on_file(number: str) -> CardOnFile:
    """The card the vault would open for the command's token."""
    return CardOnFile(token=TOKEN, brand="visa", last4=number[-4:], number=number)


GOOD = on_file(GOOD_TEST_CARD)


def test_a_charge_within_the_limit_goes_through() -> None:
    outcome = rules.charge(charge("s1", amount_cents=LIMIT), OPEN, LIMIT, GOOD)

    assert outcome.reply_type == EventType.PAYMENT_CHARGED
    assert isinstance(outcome.reply, PaymentCharged)
    assert outcome.reply.amount_cents == LIMIT
    assert outcome.record is not None
    assert outcome.record.status == "charged"
    assert outcome.record.charge_id == outcome.reply.charge_id


def test_the_test_card_always_declines() -> None:
    declining = on_file(DECLINING_TEST_CARD)
    outcome = rules.charge(charge("s1", amount_cents=1), OPEN, LIMIT, declining)

    assert outcome.reply_type == EventType.PAYMENT_DECLINED
    assert isinstance(outcome.reply, PaymentDeclined)
    assert "test card" in outcome.reply.reason
    # The reason goes into the saga's history: the card by its last four digits only.
    assert DECLINING_TEST_CARD not in outcome.reply.reason
    assert "ending 0002" in outcome.reply.reason
    assert outcome.record is None


def test_a_token_the_vault_cannot_resolve_declines() -> None:
    outcome = rules.charge(charge("s1"), OPEN, LIMIT, None)

    assert outcome.reply_type == EventType.PAYMENT_DECLINED
    assert isinstance(outcome.reply, PaymentDeclined)
    assert TOKEN in outcome.reply.reason
    assert outcome.record is None


def test_an_amount_over_the_customer_limit_declines() -> None:
    outcome = rules.charge(charge("s1", amount_cents=LIMIT + 1, customer="c-9"), OPEN, LIMIT, GOOD)

    assert outcome.reply_type == EventType.PAYMENT_DECLINED
    assert isinstance(outcome.reply, PaymentDeclined)
    assert "over the limit" in outcome.reply.reason
    assert "c-9" in outcome.reply.reason
    assert outcome.record is None


def test_the_saga_is_the_idempotency_key_of_its_charge() -> None:
    first = rules.charge(charge("s1"), OPEN, LIMIT, GOOD)
    assert first.record is not None

    again = rules.charge(charge("s1", command="another-attempt"), first.record, LIMIT, GOOD)

    assert again.reply_type == EventType.PAYMENT_CHARGED
    assert isinstance(again.reply, PaymentCharged)
    assert isinstance(first.reply, PaymentCharged)
    assert again.reply.charge_id == first.reply.charge_id
    assert again.record is None


def test_refund_returns_the_charge_once_and_zero_after() -> None:
    charged = rules.charge(charge("s1", amount_cents=12_345), OPEN, LIMIT, GOOD)
    assert charged.record is not None

    first = rules.refund(refund("s1"), charged.record)
    assert first.record is not None
    second = rules.refund(refund("s1", command="again"), first.record)

    assert isinstance(first.reply, PaymentRefunded)
    assert isinstance(second.reply, PaymentRefunded)
    assert first.reply.refunded_cents == 12_345
    assert second.reply.refunded_cents == 0
    assert first.record.refunded_cents == first.record.amount_cents == 12_345
    assert second.record is None


def test_refund_without_a_charge_refunds_nothing_and_fences_a_late_charge() -> None:
    refunded = rules.refund(refund("s1"), OPEN)

    assert isinstance(refunded.reply, PaymentRefunded)
    assert refunded.reply.refunded_cents == 0
    assert refunded.reply.charge_id is None
    assert refunded.record is not None

    late = rules.charge(charge("s1"), refunded.record, LIMIT, GOOD)

    assert late.reply_type == EventType.PAYMENT_DECLINED
    assert late.record is None
