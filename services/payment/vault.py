"""The card vault: the one place on the platform that keeps a card number.

A card comes in through the payment service's card edge (`POST /v1/tokens`,
services/payment/card_api.py) and leaves as a token (`tok_…`, random, derived from nothing)
with its brand and last four digits: orders, commands, sagas and logs carry only those.
The number itself is kept under `payment:vault:<token>`, sealed with the vault key
(AES-256-GCM, the token as associated data, so a sealed number cannot be moved under
another token): the state store, its files and its backups hold no readable card number.
Only a charge opens it again (`card`), in this process, to decide on the card.

The key is 32 random bytes, from `PAYMENT_VAULT_KEY` (base64; a Kubernetes Secret in a
cluster) or else from `PAYMENT_VAULT_KEY_FILE`, written on first start for local runs. A
token sealed under another key cannot be opened: its charge is declined, never guessed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from dapr.clients import DaprClient

from services.common.cards import card_brand, is_card_number
from services.common.state import create, read
from services.contracts.messages import Contract, PaymentToken

log = logging.getLogger("services.payment.vault")

KEY_BYTES = 32
NONCE_BYTES = 12
TOKEN_ALPHABET = string.ascii_letters + string.digits


class VaultEntry(Contract):
    """A tokenized card, as stored: what may be shown (brand, last four), which key sealed
    it (`keyId`, a digest of the key, never the key) and the sealed number."""

    token: PaymentToken
    brand: str
    last4: str
    key_id: str
    sealed: str


@dataclass(frozen=True)
class CardOnFile:
    """The card a token stands for, opened for a charge; its number stays out of `repr`,
    so it cannot reach a log line by accident."""

    token: str
    brand: str
    last4: str
    number: str = field(repr=False)


class NotACardNumber(ValueError):
    """What the edge was given is no card number (12 to 19 digits passing the Luhn check)."""


class VaultKey:
    """Seals and opens card numbers with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the vault key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"saga-platform vault key id:" + key).hexdigest()[:16]

    @classmethod
    def from_base64(cls, text: str) -> VaultKey:
        try:
            return cls(base64.b64decode(text.strip(), validate=True))
        except binascii.Error:
            raise ValueError("the vault key is not base64") from None

    def seal(self, token: str, number: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, number.encode(), token.encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, token: str, sealed: str) -> str | None:
        """The number, or None when this key did not seal it under this token."""
        raw = base64.b64decode(sealed)
        try:
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], token.encode())
        except InvalidTag:
            return None
        return plain.decode()


def load_key(secret: str | None, path: Path) -> VaultKey:
    """The vault key: `secret` (base64) when given, else the key file at `path`, which is
    written first (mode 0600) when there is none. `ValueError` naming what is wrong."""
    if secret:
        return VaultKey.from_base64(secret)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another payment process wrote it first: use theirs
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
            log.warning("new vault key written; keep it with the state", extra={"path": str(path)})
    try:
        return VaultKey.from_base64(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def new_token() -> str:
    return "tok_" + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(24))


def entry_key(token: str) -> str:
    return f"payment:vault:{token}"


class CardVault:
    """Tokenizes cards and opens them again, in the payment service's state."""

    def __init__(self, client: DaprClient, key: VaultKey) -> None:
        self.client = client
        self.key = key

    def tokenize(self, number: str) -> VaultEntry:
        """A new token for the card, its entry stored first (`NotACardNumber` when the
        number is none). Every call makes a new token: tokens are not derived from cards."""
        digits = number.replace(" ", "").replace("-", "")
        if not is_card_number(digits):
            raise NotACardNumber("not a card number: 12 to 19 digits passing the Luhn check")
        while True:
            token = new_token()
            entry = VaultEntry(
                token=token,
                brand=card_brand(digits),
                last4=digits[-4:],
                key_id=self.key.key_id,
                sealed=self.key.seal(token, digits),
            )
            if create(self.client, entry_key(token), entry.to_json()):
                return entry

    def card(self, token: str) -> CardOnFile | None:
        """The card behind `token`; None when the vault has no such token, or its number
        was sealed with another key (logged: a changed key is an operator's problem)."""
        stored = read(self.client, entry_key(token), VaultEntry)
        if stored is None:
            return None
        entry = stored.value
        number = self.key.open(token, entry.sealed)
        if number is None:
            log.error(
                "a vault entry cannot be opened with this key",
                extra={"token": token, "entry_key_id": entry.key_id, "key_id": self.key.key_id},
            )
            return None
        return CardOnFile(token=token, brand=entry.brand, last4=entry.last4, number=number)
