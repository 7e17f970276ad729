"""Orders as an upstream system places them, built from the contract (`OrderPlaced`).

An order pays with a token of the payment service's card vault: the test tokenizes its
card there first (`Platform.tokenize`), as an upstream system does. The cards are the
topology's test cards (the declining one always declines) or one of `card_number`'s, and
a country outside the platform's `SHIPPING_COUNTRIES` fails the shipment
(docs/services.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.common.cards import luhn_valid
from services.contracts.messages import Address, OrderLine, OrderPlaced

SHIPPABLE_COUNTRY = "US"
UNSHIPPABLE_COUNTRY = "BR"  # not in the platform's SHIPPING_COUNTRIES

Line = tuple[str, int, int]  # sku, quantity, unit price in cents


def order(
    order_id: str,
    lines: Sequence[Line] = (("SKU-001", 1, 2_500),),
    *,
    token: str,
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
        payment_token=token,
        shipping_address=Address(
            line1="1 Test Street", city="Springfield", postal_code="12345", country=country
        ),
    )


def card_number(index: int) -> str:
    """A card number of its own for each index: 16 digits, Luhn-valid, so the vault takes
    it, and a test can look for every card it used."""
    body = f"4111{index:011d}"
    return next(body + digit for digit in "0123456789" if luhn_valid(body + digit))
