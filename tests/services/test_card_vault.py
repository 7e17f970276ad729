"""The card vault and its edge without Dapr (an in-memory state store): a card goes in,
a token comes out, the stored entry holds no readable number, only this key opens it, and
neither an answer nor an error of the edge repeats the number. Plus the card-number rules
every app shares (Luhn, brand, masking)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.common.cards import card_brand, is_card_number, luhn_valid, redact_card_numbers
from services.contracts.topology import DECLINING_TEST_CARD, GOOD_TEST_CARD
from services.payment.card_api import create_card_api
from services.payment.vault import CardVault, NotACardNumber, VaultKey, entry_key, load_key
from tests.services.memory_store import MemoryStore, memory_vault


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def vault(store: MemoryStore) -> CardVault:
    return memory_vault(store)


def test_a_card_becomes_a_token_and_its_entry_holds_no_readable_number(
    vault: CardVault, store: MemoryStore
) -> None:
    entry = vault.tokenize(GOOD_TEST_CARD)

    assert (entry.brand, entry.last4) == ("visa", "4242")
    stored = store.items[entry_key(entry.token)]
    assert GOOD_TEST_CARD.encode() not in stored
    assert GOOD_TEST_CARD.encode() not in base64.b64decode(json.loads(stored)["sealed"])
    card = vault.card(entry.token)
    assert card is not None
    assert card.number == GOOD_TEST_CARD
    assert GOOD_TEST_CARD not in repr(card)
    assert entry.token.startswith("tok_")


def test_every_tokenization_gives_a_new_token(vault: CardVault) -> None:
    assert vault.tokenize(GOOD_TEST_CARD).token != vault.tokenize(GOOD_TEST_CARD).token


def test_the_vault_says_which_token_is_the_declining_card(vault: CardVault) -> None:
    good, declining = vault.tokenize(GOOD_TEST_CARD), vault.tokenize(DECLINING_TEST_CARD)

    opened = [vault.card(good.token), vault.card(declining.token)]

    assert [c.number if c else None for c in opened] == [GOOD_TEST_CARD, DECLINING_TEST_CARD]


def test_an_unknown_token_or_another_key_opens_nothing(
    vault: CardVault, store: MemoryStore
) -> None:
    entry = vault.tokenize(GOOD_TEST_CARD)

    assert vault.card("tok_unknownUnknownUnknown") is None
    assert memory_vault(store, b"o" * 32).card(entry.token) is None
    # A sealed number moved under another token does not open either.
    other = vault.tokenize(DECLINING_TEST_CARD)
    moved = {**json.loads(store.items[entry_key(entry.token)]), "token": other.token}
    store.items[entry_key(other.token)] = json.dumps(moved).encode()
    assert vault.card(other.token) is None


@pytest.mark.parametrize("number", ["4242424242424241", "12", "abcd", "42424242424242424242"])
def test_what_is_no_card_number_is_refused(vault: CardVault, number: str) -> None:
    with pytest.raises(NotACardNumber):
        vault.tokenize(number)


def test_the_key_comes_from_the_secret_or_a_file_written_once(tmp_path: Path) -> None:
    secret = base64.b64encode(b"s" * 32).decode()
    assert load_key(secret, tmp_path / "unused").key_id == VaultKey(b"s" * 32).key_id
    assert not (tmp_path / "unused").exists()

    path = tmp_path / "keys" / "vault.key"
    first = load_key(None, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(None, path).key_id == first.key_id
    with pytest.raises(ValueError, match="32 bytes"):
        load_key(base64.b64encode(b"short").decode(), path)


def test_the_edge_answers_a_token_and_never_repeats_the_number(vault: CardVault) -> None:
    edge = TestClient(create_card_api(vault))

    created = edge.post("/v1/tokens", json={"number": GOOD_TEST_CARD})
    refused = edge.post("/v1/tokens", json={"number": "4242424242424241"})
    malformed = edge.post("/v1/tokens", json={"number": GOOD_TEST_CARD, "cvc": "123"})

    assert created.status_code == 201
    assert set(created.json()) == {"token", "brand", "last4"}
    assert vault.card(created.json()["token"]) is not None
    assert (refused.status_code, refused.json()["code"]) == (422, "INVALID_CARD_NUMBER")
    assert (malformed.status_code, malformed.json()["code"]) == (422, "INVALID_REQUEST")
    for answer in (created, refused, malformed):
        assert "424242424242" not in answer.text


def test_card_numbers_are_recognised_and_masked_in_text() -> None:
    assert luhn_valid(GOOD_TEST_CARD)
    assert luhn_valid(DECLINING_TEST_CARD)
    assert not is_card_number("4242424242424241")
    assert [card_brand(n) for n in ("4242424242424242", "5555555555554444", "378282246310005")] == [
        "visa",
        "mastercard",
        "amex",
    ]
    text = f'{{"cardNumber": "{GOOD_TEST_CARD}", "at": 1718000000000000000, "id": "ord-1"}}'
    assert redact_card_numbers(text) == (
        '{"cardNumber": "****4242", "at": 1718000000000000000, "id": "ord-1"}'
    )
