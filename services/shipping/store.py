"""Shipping's records in the state store, and the commands that change them.

Keys (the store has `keyPrefix: none`, so the names are the service's own):
- `shipping:shipment:<sagaId>`: the saga's `Shipment`, with the reply each of its commands
  got.
"""

from __future__ import annotations

from collections.abc import Set

from dapr.clients import DaprClient

from services.common.state import SagaRecords
from services.contracts.messages import CancelShipment, CreateShipment, Reply
from services.contracts.names import EventType
from services.shipping import rules
from services.shipping.rules import Shipment

SHIPMENTS = SagaRecords("shipping", "shipment", Shipment)


def create(
    client: DaprClient, supported: Set[str], command: CreateShipment
) -> tuple[EventType, Reply]:
    return SHIPMENTS.answer(
        client, command, lambda shipment: rules.create(command, shipment, supported)
    )


def cancel(client: DaprClient, command: CancelShipment) -> tuple[EventType, Reply]:
    return SHIPMENTS.answer(client, command, lambda shipment: rules.cancel(command, shipment))
