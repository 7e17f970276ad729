"""The inventory's stock levels as the demo reads them: what orders are built from, and
the before and after of the conservation check (`summary.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from sagactl.api_client import SagaApi


@dataclass(frozen=True)
class Stock:
    available: int
    reserved: int

    @property
    def total(self) -> int:
        return self.available + self.reserved


def read_stock(api: SagaApi) -> dict[str, Stock]:
    """Every SKU's levels (`GET /v1/inventory/stock`)."""
    items = api.stock(None)["items"]
    return {
        str(item["sku"]): Stock(int(item["available"]), int(item.get("reserved", 0)))
        for item in items
    }
