"""The shipping service as a real Dapr app: shipments with tracking ids, cancellation,
the unsupported-destination rule, idempotent by command id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.contracts.names import AppId, EventType
from services.shipping.store import SHIPMENTS
from tests.services.commands import cancel_shipment, create_shipment
from tests.services.harness import (
    RunningService,
    assert_invalid_command_dead_lettered,
    assert_unknown_type_dead_lettered,
    running_service,
)

CREATE, CANCEL = EventType.SHIPPING_CREATE, EventType.SHIPPING_CANCEL


@pytest.fixture(scope="module")
def shipping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root: Path = tmp_path_factory.mktemp("shipping")
    env = {"SHIPPING_COUNTRIES": "US,NL"}
    with running_service(root, AppId.SHIPPING, env) as running:
        yield running


def test_create_then_cancel_a_shipment(shipping: RunningService) -> None:
    created_type, created = shipping.reply(CREATE, create_shipment("shipped", "NL"))

    assert created_type == EventType.SHIPPING_CREATED
    assert created["trackingId"]
    assert shipping.state(SHIPMENTS.record_key("shipped"))["status"] == "created"

    cancelled_type, cancelled = shipping.reply(CANCEL, cancel_shipment("shipped"))

    assert cancelled_type == EventType.SHIPPING_CANCELLED
    assert cancelled["trackingId"] == created["trackingId"]
    assert shipping.state(SHIPMENTS.record_key("shipped"))["status"] == "cancelled"


def test_a_destination_outside_the_configured_countries_fails(shipping: RunningService) -> None:
    event_type, reply = shipping.reply(CREATE, create_shipment("abroad", "DE"))

    assert event_type == EventType.SHIPPING_FAILED
    assert "DE" in reply["reason"]


def test_cancel_without_shipment_is_a_no_op(shipping: RunningService) -> None:
    event_type, reply = shipping.reply(CANCEL, cancel_shipment("never-shipped"))

    assert event_type == EventType.SHIPPING_CANCELLED
    assert "trackingId" not in reply


def test_the_same_create_twice_ships_once(shipping: RunningService) -> None:
    command = create_shipment("twice")
    shipping.send(CREATE, command)
    shipping.send(CREATE, command)

    first, second = shipping.wait_replies(command.command_id, count=2)

    assert first == second
    assert shipping.state(SHIPMENTS.record_key("twice"))["trackingId"] == first[1]["trackingId"]


def test_an_invalid_command_is_dead_lettered_with_the_reason(shipping: RunningService) -> None:
    assert_invalid_command_dead_lettered(shipping, CREATE)


def test_an_unknown_event_type_is_dead_lettered(shipping: RunningService) -> None:
    assert_unknown_type_dead_lettered(shipping)
