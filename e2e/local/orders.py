"""Orders as an upstream system places them, built from the contract (`OrderPlaced`).

The cards are the topology's test cards (the declining one always declines), and a
country outside the platform's `SHIPPING_COUNTRIES` fails the shipment (docs/services.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.contracts.messages import Address, OrderLine, OrderPlaced
from services.contracts.topology import GOOD_TEST_CARD

SHIPPABLE_COUNTRY = "US"
UNSHIPPABLE_COUNTRY = "BR"  # not in the platform's SHIPPING_COUNTRIES

Line = tuple[str, int, int]  # sku, quantity, unit price in cents


def order(
    order_id: str,
    lines: Sequence[Line] = (("SKU-001", 1, 2_500),),
    *,
    card: str = GOOD_TEST_CARD,
    country: str = SHIPPABLE_COUNTRY,
    customer_id: str = "cust-e2e",
) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        customer_id=customer_id,
        items=[
            OrderLine(sku=sku, quantity=quantity, unit_price_cents=price)
            for sku, quantity, price in lines
        ],
        currency="USD",
        card_number=card,
        shipping_address=Address(
            line1="1 Test Street", city="Springfield", postal_code="12345", country=country
        ),
    )
