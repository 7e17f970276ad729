"""Command builders shared by the services' unit and integration tests."""

from __future__ import annotations

from typing import Any

from services.contracts.messages import (
    Address,
    CancelShipment,
    ChargePayment,
    CommitInventory,
    CreateShipment,
    OrderLine,
    RefundPayment,
    ReleaseInventory,
    ReserveInventory,
)

# A token of the right shape; the rules' tests hand the card it stands for alongside.
TOKEN = "tok_rulesRulesRulesRules"


def ids(saga: str, command: str = "") -> dict[str, Any]:
    """The ids every command carries; the command id defaults to one per saga and kind."""
    return {"saga_id": saga, "command_id": command or f"{saga}-cmd", "order_id": f"o-{saga}"}


def lines(*quantities: tuple[str, int]) -> list[OrderLine]:
    return [OrderLine(sku=sku, quantity=units, unit_price_cents=100) for sku, units in quantities]


def reserve(saga: str, *quantities: tuple[str, int], command: str = "") -> ReserveInventory:
    return ReserveInventory(**ids(saga, command or f"{saga}-reserve"), items=lines(*quantities))


def release(saga: str, command: str = "") -> ReleaseInventory:
    return ReleaseInventory(**ids(saga, command or f"{saga}-release"))


def commit(saga: str, command: str = "") -> CommitInventory:
    return CommitInventory(**ids(saga, command or f"{saga}-commit"))


def charge(
    saga: str,
    amount_cents: int = 10_000,
    token: str = TOKEN,
    customer: str = "c-1",
    command: str = "",
) -> ChargePayment:
    return ChargePayment(
        **ids(saga, command or f"{saga}-charge"),
        customer_id=customer,
        amount_cents=amount_cents,
        currency="USD",
        payment_token=token,
    )


def refund(saga: str, command: str = "") -> RefundPayment:
    return RefundPayment(**ids(saga, command or f"{saga}-refund"))


def create_shipment(saga: str, country: str = "US", command: str = "") -> CreateShipment:
    return CreateShipment(
        **ids(saga, command or f"{saga}-ship"),
        address=Address(
            line1="1 Main St", city="Springfield", postal_code="12345", country=country
        ),
        items=lines(("SKU-001", 1)),
    )


def cancel_shipment(saga: str, command: str = "") -> CancelShipment:
    return CancelShipment(**ids(saga, command or f"{saga}-cancel"))
