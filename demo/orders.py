"""The orders themselves: for each kind (`scenarios.py`), an `OrderPlaced` built so that
the saga can only end the way the kind expects, whatever order the sagas run in. Each
pays with a token of the payment service's card vault (`tokenize`), never a card."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from demo.scenarios import NEEDS_APPROVAL, Kind, mix
from demo.stock import Stock
from services.contracts.messages import Address, OrderLine, OrderPlaced
from services.contracts.names import saga_instance_id
from services.contracts.topology import DECLINING_TEST_CARD, GOOD_TEST_CARD

UNKNOWN_SKU = "NO-SUCH-SKU"
# Shipping addresses by country; `BR` is outside the platform's default SHIPPING_COUNTRIES.
ADDRESSES: Mapping[str, Address] = {
    "US": Address(line1="1 Main Street", city="Springfield", postal_code="62701", country="US"),
    "CA": Address(line1="200 Bay Street", city="Toronto", postal_code="M5J 2J5", country="CA"),
    "GB": Address(line1="10 Downing Street", city="London", postal_code="SW1A 2AA", country="GB"),
    "DE": Address(line1="Unter den Linden 1", city="Berlin", postal_code="10117", country="DE"),
    "FR": Address(line1="1 Rue de Rivoli", city="Paris", postal_code="75001", country="FR"),
    "NL": Address(line1="Damrak 1", city="Amsterdam", postal_code="1012 LG", country="NL"),
}
UNSHIPPABLE_ADDRESS = Address(
    line1="Avenida Paulista 1000", city="Sao Paulo", postal_code="01310-100", country="BR"
)
CUSTOMERS = ("cust-alice", "cust-bob", "cust-carol", "cust-dave", "cust-erin", "cust-frank")


class DemoError(Exception):
    """The demo cannot go on (no stock to order from, the API gone)."""


@dataclass(frozen=True)
class DemoOrder:
    kind: Kind
    order: OrderPlaced
    card: str = GOOD_TEST_CARD  # the card `order`'s token stands for

    @property
    def order_id(self) -> str:
        return self.order.order_id

    @property
    def saga_id(self) -> str:
        return saga_instance_id(self.order.order_id)


def build_orders(
    count: int,
    run_id: str,
    stock: Mapping[str, Stock],
    *,
    tokenize: Callable[[str], str],
    approval_threshold_cents: int = 100_000,
    payment_limit_cents: int = 500_000,
    seed: int | None = None,
) -> list[DemoOrder]:
    """`count` orders in a shuffled mix of kinds, ids `<run_id>-01`, ... Quantities are
    chosen so that all the orders that reserve can hold their stock at the same time,
    whatever order they run in, so each kind's outcome does not depend on timing. An
    order pays with the token `tokenize` gives for its card (a test card)."""
    rng = random.Random(seed)
    kinds = list(mix(count).elements())
    rng.shuffle(kinds)
    room = {sku: level.available for sku, level in sorted(stock.items()) if level.available > 0}
    if not room:
        raise DemoError("the inventory has no stock to order from")
    # Under the threshold with room to spare: at most 2 lines of at most 3 units.
    small_price = max(100, approval_threshold_cents * 8 // 10 // 6)
    big_low = approval_threshold_cents + max(approval_threshold_cents // 5, 1)
    big_high = max(big_low, min(approval_threshold_cents * 3, payment_limit_cents * 9 // 10))

    def take(lines: int, most: int) -> list[tuple[str, int]]:
        """`lines` distinct SKUs with `1..most` units each, within what is left of them."""
        picked: list[tuple[str, int]] = []
        for sku in rng.sample(sorted(room), k=len(room)):
            if len(picked) == lines:
                break
            if room[sku] >= 1:
                quantity = rng.randint(1, min(most, room[sku]))
                room[sku] -= quantity
                picked.append((sku, quantity))
        if not picked:
            raise DemoError(
                "not enough stock left for the demo's orders (start from a fresh data folder)"
            )
        return picked

    orders = []
    for index, kind in enumerate(kinds, start=1):
        card, address = GOOD_TEST_CARD, ADDRESSES[rng.choice(sorted(ADDRESSES))]
        if kind in NEEDS_APPROVAL:
            ((sku, _),) = take(1, 1)
            lines = [(sku, 1, rng.randint(big_low, big_high))]
        elif kind == Kind.UNKNOWN_SKU:
            sku = rng.choice(sorted(stock))
            lines = [
                (sku, 1, rng.randint(min(500, small_price), small_price)),
                (UNKNOWN_SKU, 1, 999),
            ]
        elif kind == Kind.INSUFFICIENT_STOCK:
            sku = min(stock, key=lambda s: (stock[s].available, s))
            if stock[sku].available >= 1000:
                raise DemoError(f"{sku} has too much stock for an order to exceed it")
            lines = [(sku, stock[sku].available + 1, 100)]
        else:
            lines = [
                (sku, qty, rng.randint(min(500, small_price), small_price))
                for sku, qty in take(2, 3)
            ]
            if kind == Kind.CARD_DECLINED:
                card = DECLINING_TEST_CARD
            elif kind == Kind.UNSHIPPABLE:
                address = UNSHIPPABLE_ADDRESS
        order = OrderPlaced(
            order_id=f"{run_id}-{index:02d}",
            customer_id=rng.choice(CUSTOMERS),
            items=[OrderLine(sku=s, quantity=q, unit_price_cents=p) for s, q, p in lines],
            currency="USD",
            payment_token=tokenize(card),
            shipping_address=address,
        )
        orders.append(DemoOrder(kind, order, card))
    return orders
