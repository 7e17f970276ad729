"""Shipping's rules as pure functions: where we ship, shipments with tracking ids, cancel.

Failure rule: a destination country outside the supported set (`SHIPPING_COUNTRIES`,
default `US,CA,GB,DE,FR,NL`) fails the shipment.

A saga's shipment record goes `open` -> `created` -> `cancelled`, or straight from `open`
to `cancelled` when a cancel overtakes its create (the saga timed out and compensated).
`cancelled` is final: a create arriving after it fails, so a late redelivery can never
ship an order that was already compensated.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Literal

from services.common.outcomes import Outcome, SagaRecord, reply_to, saga_scoped_id
from services.contracts.messages import (
    CancelShipment,
    CreateShipment,
    ShipmentCancelled,
    ShipmentCreated,
    ShipmentFailed,
)
from services.contracts.names import EventType

DEFAULT_COUNTRIES = frozenset({"US", "CA", "GB", "DE", "FR", "NL"})


class Shipment(SagaRecord):
    """A saga's shipment (see the module docstring for its lifecycle)."""

    status: Literal["open", "created", "cancelled"] = "open"
    tracking_id: str | None = None
    country: str | None = None


def countries(text: str | None) -> frozenset[str]:
    """The supported destinations from `SHIPPING_COUNTRIES` (comma-separated ISO codes),
    or `DEFAULT_COUNTRIES` when it is unset or empty."""
    chosen = frozenset(code.strip().upper() for code in (text or "").split(",") if code.strip())
    return chosen or DEFAULT_COUNTRIES


def failure_reason(command: CreateShipment, supported: Set[str]) -> str | None:
    """Why the shipment cannot be made, or None when it can."""
    country = command.address.country
    if country not in supported:
        served = ", ".join(sorted(supported))
        return f"destination country {country} is not served (we ship to {served})"
    return None


def create(command: CreateShipment, shipment: Shipment, supported: Set[str]) -> Outcome[Shipment]:
    if shipment.status == "created":
        return Outcome(EventType.SHIPPING_CREATED, _created_reply(command, shipment))
    reason = (
        f"the shipment of saga '{command.saga_id}' was already cancelled"
        if shipment.status == "cancelled"
        else failure_reason(command, supported)
    )
    if reason is not None:
        return Outcome(EventType.SHIPPING_FAILED, reply_to(command, ShipmentFailed, reason=reason))
    created = shipment.model_copy(
        update={
            "status": "created",
            "tracking_id": saga_scoped_id("TRK", command.saga_id).upper(),
            "country": command.address.country,
        }
    )
    return Outcome(EventType.SHIPPING_CREATED, _created_reply(command, created), created)


def _created_reply(command: CreateShipment, shipment: Shipment) -> ShipmentCreated:
    return reply_to(command, ShipmentCreated, tracking_id=shipment.tracking_id)


def cancel(command: CancelShipment, shipment: Shipment) -> Outcome[Shipment]:
    """Cancels the saga's shipment; with none, closes the saga to later creates."""
    reply = reply_to(command, ShipmentCancelled, tracking_id=shipment.tracking_id)
    if shipment.status == "cancelled":
        return Outcome(EventType.SHIPPING_CANCELLED, reply)
    cancelled = shipment.model_copy(update={"status": "cancelled"})
    return Outcome(EventType.SHIPPING_CANCELLED, reply, cancelled)
