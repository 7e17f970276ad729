"""Shipping's rules without Dapr: supported destinations, tracking ids, cancellation."""

from __future__ import annotations

from services.contracts.messages import ShipmentCancelled, ShipmentCreated, ShipmentFailed
from services.contracts.names import EventType
from services.shipping import rules
from services.shipping.rules import DEFAULT_COUNTRIES, Shipment
from tests.services.commands import cancel_shipment, create_shipment

OPEN = Shipment(saga_id="s1")


def test_a_shipment_to_a_supported_country_gets_a_tracking_id() -> None:
    outcome = rules.create(create_shipment("s1", "DE"), OPEN, DEFAULT_COUNTRIES)

    assert outcome.reply_type == EventType.SHIPPING_CREATED
    assert isinstance(outcome.reply, ShipmentCreated)
    assert outcome.reply.tracking_id.startswith("TRK")
    assert outcome.record is not None
    assert outcome.record.tracking_id == outcome.reply.tracking_id


def test_an_unsupported_destination_fails_the_shipment() -> None:
    outcome = rules.create(create_shipment("s1", "BR"), OPEN, DEFAULT_COUNTRIES)

    assert outcome.reply_type == EventType.SHIPPING_FAILED
    assert isinstance(outcome.reply, ShipmentFailed)
    assert "BR" in outcome.reply.reason
    assert outcome.record is None


def test_supported_countries_come_from_a_comma_separated_list() -> None:
    assert rules.countries(" br, us ,") == {"BR", "US"}
    assert rules.countries(None) == rules.countries("") == DEFAULT_COUNTRIES


def test_a_saga_gets_one_shipment_whatever_the_attempt() -> None:
    first = rules.create(create_shipment("s1"), OPEN, DEFAULT_COUNTRIES)
    assert first.record is not None

    again = rules.create(create_shipment("s1", command="other"), first.record, DEFAULT_COUNTRIES)

    assert again.reply == first.reply.model_copy(update={"command_id": "other"})
    assert again.record is None


def test_cancel_cancels_the_shipment_once() -> None:
    created = rules.create(create_shipment("s1"), OPEN, DEFAULT_COUNTRIES)
    assert created.record is not None

    cancelled = rules.cancel(cancel_shipment("s1"), created.record)
    assert cancelled.record is not None
    again = rules.cancel(cancel_shipment("s1", command="again"), cancelled.record)

    assert isinstance(cancelled.reply, ShipmentCancelled)
    assert isinstance(created.reply, ShipmentCreated)
    assert cancelled.reply.tracking_id == created.reply.tracking_id
    assert cancelled.record.status == "cancelled"
    assert again.reply_type == EventType.SHIPPING_CANCELLED
    assert again.record is None


def test_cancel_without_a_shipment_is_a_no_op_that_fences_a_late_create() -> None:
    cancelled = rules.cancel(cancel_shipment("s1"), OPEN)

    assert isinstance(cancelled.reply, ShipmentCancelled)
    assert cancelled.reply.tracking_id is None
    assert cancelled.record is not None

    late = rules.create(create_shipment("s1"), cancelled.record, DEFAULT_COUNTRIES)

    assert late.reply_type == EventType.SHIPPING_FAILED
    assert late.record is None
