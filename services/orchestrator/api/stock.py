"""Stock levels as the inventory service keeps them in the shared state store (read-only
here): the SKU catalogue under `inventory:skus`, one `StockLevel` under each stock key."""

from __future__ import annotations

import json
import logging

from dapr.clients import DaprClient

from services.contracts.messages import InvalidMessage, StockLevel
from services.contracts.names import SKU_CATALOGUE_KEY, STATESTORE, stock_key
from services.orchestrator.api.errors import ErrorCode, not_found

log = logging.getLogger("services.orchestrator.api")


def catalogue(dapr: DaprClient) -> list[str]:
    raw = dapr.get_state(STATESTORE, SKU_CATALOGUE_KEY).data
    if not raw:
        return []
    try:
        skus = json.loads(raw)
    except ValueError:
        log.warning("the SKU catalogue is not JSON", extra={"key": SKU_CATALOGUE_KEY})
        return []
    return [str(sku) for sku in skus] if isinstance(skus, list) else []


def stock_levels(dapr: DaprClient, skus: list[str] | None = None) -> list[StockLevel]:
    """The levels of `skus` (404 if one has none), or of every SKU in the catalogue."""
    requested = bool(skus)
    wanted = list(dict.fromkeys(skus)) if skus else catalogue(dapr)
    if not wanted:
        return []
    items = dapr.get_bulk_state(STATESTORE, [stock_key(sku) for sku in wanted]).items
    stored = {item.key: item.data for item in items}
    levels: list[StockLevel] = []
    missing: list[str] = []
    for sku in wanted:
        data = stored.get(stock_key(sku))
        if not data:
            missing.append(sku)
            continue
        try:
            levels.append(StockLevel.parse(data))
        except InvalidMessage as error:
            log.warning("unreadable stock level", extra={"sku": sku, "reason": error.reason})
    if requested and missing:
        raise not_found(ErrorCode.SKU_NOT_FOUND, f"no stock is kept for {', '.join(missing)}")
    return levels
