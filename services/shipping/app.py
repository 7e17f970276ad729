"""Shipping's Dapr wiring: `shipping-commands` routed by event type to the store."""

from __future__ import annotations

from collections.abc import Set

from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.ext.grpc import App, SubscriptionMessage

from services.common.messaging import CommandHandling, command_route, default_route
from services.contracts.models import CancelShipment, CreateShipment
from services.contracts.names import AppId, EventType, Topic
from services.shipping import store

TOPIC = Topic.SHIPPING_COMMANDS


def build_app(client: DaprClient, supported: Set[str]) -> App:
    app = App()
    handling = CommandHandling(client, AppId.SHIPPING)

    @app.subscribe(**default_route(TOPIC))
    def unknown_shipping_command(event: SubscriptionMessage) -> TopicEventResponse:
        return handling.reject_unknown(event)

    @app.subscribe(**command_route(TOPIC, EventType.SHIPPING_CREATE, 1))
    def create_shipment(event: SubscriptionMessage) -> TopicEventResponse:
        return handling.handle(event, CreateShipment, lambda c: store.create(client, supported, c))

    @app.subscribe(**command_route(TOPIC, EventType.SHIPPING_CANCEL, 2))
    def cancel_shipment(event: SubscriptionMessage) -> TopicEventResponse:
        return handling.handle(event, CancelShipment, lambda c: store.cancel(client, c))

    return app
