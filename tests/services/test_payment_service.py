"""The payment service as a real Dapr app: cards tokenized at its card edge and kept
sealed, charges keyed by saga, the decline rules, refunds that never exceed the charge,
idempotent by command id."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagactl.card_vault import tokenize
from services.contracts.names import STATESTORE, AppId, EventType
from services.contracts.topology import DECLINING_TEST_CARD, GOOD_TEST_CARD
from services.payment.store import CHARGES
from services.payment.vault import entry_key
from testkit.ports import free_port
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
def vault_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def payment(tmp_path_factory: pytest.TempPathFactory, vault_url: str) -> Iterator[RunningService]:
    root: Path = tmp_path_factory.mktemp("payment")
    env = {
        "PAYMENT_LIMIT_CENTS": str(LIMIT),
        "VAULT_PORT": vault_url.rsplit(":", 1)[1],
        "PAYMENT_VAULT_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    with running_service(root, AppId.PAYMENT, env) as running:
        yield running


@pytest.fixture(scope="module")
def good(payment: RunningService, vault_url: str) -> str:
    """A token of the good test card, from the service's card edge."""
    return tokenize(vault_url, GOOD_TEST_CARD)["token"]


def test_a_card_is_kept_sealed_and_charged_through_its_token(
    payment: RunningService, vault_url: str
) -> None:
    answer = tokenize(vault_url, "5555 5555 5555 4444")
    event_type, reply = payment.reply(CHARGE, charge("by-token", token=answer["token"]))

    assert (answer["brand"], answer["last4"]) == ("mastercard", "4444")
    assert event_type == EventType.PAYMENT_CHARGED, reply
    stored = payment.client.get_state(STATESTORE, entry_key(answer["token"])).data
    assert b"4444" in stored
    assert b"5555555555554444" not in stored
    assert "5555555555554444" not in payment.service.log_path.read_text()


def test_a_token_the_vault_does_not_know_is_declined(payment: RunningService) -> None:
    event_type, reply = payment.reply(CHARGE, charge("forged", token="tok_forgedForgedForged1"))

    assert event_type == EventType.PAYMENT_DECLINED
    assert "tok_forgedForgedForged1" in reply["reason"]


def test_charge_then_refund_returns_the_whole_charge_once(
    payment: RunningService, good: str
) -> None:
    charged_type, charged = payment.reply(CHARGE, charge("paid", amount_cents=12_500, token=good))

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


def test_the_test_card_is_declined(payment: RunningService, vault_url: str) -> None:
    declining = tokenize(vault_url, DECLINING_TEST_CARD)["token"]
    event_type, reply = payment.reply(CHARGE, charge("test-card", token=declining))

    assert event_type == EventType.PAYMENT_DECLINED
    # Named by its last four digits: the reason goes into the saga's history.
    assert "ending 0002" in reply["reason"]
    assert DECLINING_TEST_CARD not in reply["reason"]


def test_an_amount_over_the_configured_limit_is_declined(
    payment: RunningService, good: str
) -> None:
    event_type, reply = payment.reply(
        CHARGE, charge("too-much", amount_cents=LIMIT + 1, token=good)
    )

    assert event_type == EventType.PAYMENT_DECLINED
    assert str(LIMIT) in reply["reason"]


def test_refund_without_charge_refunds_nothing(payment: RunningService) -> None:
    event_type, reply = payment.reply(REFUND, refund("never-charged"))

    assert event_type == EventType.PAYMENT_REFUNDED
    assert reply["refundedCents"] == 0


def test_the_same_charge_twice_charges_once(payment: RunningService, good: str) -> None:
    command = charge("twice", amount_cents=3_000, token=good)
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
