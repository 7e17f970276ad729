"""The payment service as a real Dapr app: charges keyed by saga, the decline rules,
refunds that never exceed the charge, idempotent by command id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.contracts.names import AppId, EventType
from services.contracts.topology import DECLINING_TEST_CARD
from services.payment.store import CHARGES
from tests.services.commands import charge, refund
from tests.services.harness import (
    RunningService,
    assert_invalid_command_dead_lettered,
    assert_unknown_type_dead_lettered,
    running_service,
)

CHARGE, REFUND = EventType.PAYMENT_CHARGE, EventType.PAYMENT_REFUND
LIMIT = 20_000


@pytest.fixture(scope="module")
def payment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root: Path = tmp_path_factory.mktemp("payment")
    env = {"PAYMENT_LIMIT_CENTS": str(LIMIT)}
    with running_service(root, AppId.PAYMENT, env) as running:
        yield running


def test_charge_then_refund_returns_the_whole_charge_once(payment: RunningService) -> None:
    charged_type, charged = payment.reply(CHARGE, charge("paid", amount_cents=12_500))

    assert charged_type == EventType.PAYMENT_CHARGED
    assert charged["amountCents"] == 12_500
    assert payment.state(CHARGES.record_key("paid"))["status"] == "charged"

    first = payment.reply(REFUND, refund("paid"))
    second = payment.reply(REFUND, refund("paid", command="paid-refund-again"))

    assert first == (
        EventType.PAYMENT_REFUNDED,
        {**first[1], "chargeId": charged["chargeId"], "refundedCents": 12_500},
    )
    assert second[1]["refundedCents"] == 0
    assert payment.state(CHARGES.record_key("paid"))["refundedCents"] == 12_500


def test_the_test_card_is_declined(payment: RunningService) -> None:
    event_type, reply = payment.reply(CHARGE, charge("test-card", card=DECLINING_TEST_CARD))

    assert event_type == EventType.PAYMENT_DECLINED
    assert DECLINING_TEST_CARD in reply["reason"]


def test_an_amount_over_the_configured_limit_is_declined(payment: RunningService) -> None:
    event_type, reply = payment.reply(CHARGE, charge("too-much", amount_cents=LIMIT + 1))

    assert event_type == EventType.PAYMENT_DECLINED
    assert str(LIMIT) in reply["reason"]


def test_refund_without_charge_refunds_nothing(payment: RunningService) -> None:
    event_type, reply = payment.reply(REFUND, refund("never-charged"))

    assert event_type == EventType.PAYMENT_REFUNDED
    assert reply["refundedCents"] == 0


def test_the_same_charge_twice_charges_once(payment: RunningService) -> None:
    command = charge("twice", amount_cents=3_000)
    payment.send(CHARGE, command)
    payment.send(CHARGE, command)

    first, second = payment.wait_replies(command.command_id, count=2)

    assert first == second
    assert first[0] == EventType.PAYMENT_CHARGED
    # a refund after both finds a single charge of the amount
    assert payment.reply(REFUND, refund("twice"))[1]["refundedCents"] == 3_000


def test_an_invalid_command_is_dead_lettered_with_the_reason(payment: RunningService) -> None:
    assert_invalid_command_dead_lettered(payment, CHARGE)


def test_an_unknown_event_type_is_dead_lettered(payment: RunningService) -> None:
    assert_unknown_type_dead_lettered(payment)
