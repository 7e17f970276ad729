"""`python -m services.inventory`: seeds the stock that is missing, then serves commands."""

from __future__ import annotations

from pydantic import field_validator

from services.common.startup import ServiceSettings, serve, start
from services.contracts.names import AppId
from services.inventory import store
from services.inventory.app import build_app
from services.inventory.rules import seed_levels


class InventorySettings(ServiceSettings):
    """`INVENTORY_SEED`: JSON `{sku: available}` stock created where none is stored yet
    (default: ten SKUs of 100 units)."""

    inventory_seed: str | None = None

    @field_validator("inventory_seed")
    @classmethod
    def _seed_parses(cls, text: str | None) -> str | None:
        seed_levels(text)
        return text


def main() -> None:
    settings, client = start(AppId.INVENTORY, InventorySettings)
    store.seed(client, seed_levels(settings.inventory_seed))
    serve(build_app(client), settings, default_port=6001)


if __name__ == "__main__":
    main()
