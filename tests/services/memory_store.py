"""An in-memory stand-in for the `DaprClient` state calls the card vault makes, so the
vault and its edge run in a test without a sidecar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.payment.vault import CardVault, VaultKey


@dataclass
class Item:
    data: bytes
    etag: str


class MemoryStore:
    """What the vault asks of a `DaprClient`: get, and save (first-write or by ETag)."""

    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}

    def get_state(self, store: str, key: str) -> Item:
        return Item(self.items.get(key, b""), "1")

    def save_state(self, store: str, key: str, value: str, **options: Any) -> None:
        self.items[key] = value.encode()


def memory_vault(store: MemoryStore, key: bytes = b"k" * 32) -> CardVault:
    return CardVault(store, VaultKey(key))  # type: ignore[arg-type]
