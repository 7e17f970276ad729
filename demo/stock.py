"""The inventory's stock levels as the demo reads them: what orders are built from, and
the before and after of the conservation check (`summary.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from sagactl.api_client import SagaApi


@dataclass(frozen=True)
class Stock:
    available: int
    reserved: int
    shipped: int = 0

    @property
    def total(self) -> int:
        """What the SKU was seeded with: on hand (available + reserved) plus shipped."""
        return self.available + self.reserved + self.shipped


def read_stock(api: SagaApi) -> dict[str, Stock]:
    """Every SKU's levels (`GET /v1/inventory/stock`)."""
    items = api.stock(None)["items"]
    return {
        str(item["sku"]): Stock(
            int(item["available"]), int(item.get("reserved", 0)), int(item.get("shipped", 0))
        )
        for item in items
    }
