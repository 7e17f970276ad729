"""Inventory's Dapr wiring: `inventory-commands` routed by event type to the store."""

from __future__ import annotations

from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.ext.grpc import App, SubscriptionMessage

from services.common.messaging import CommandHandling, command_route, default_route
from services.contracts.models import ReleaseInventory, ReserveInventory
from services.contracts.names import AppId, EventType, Topic
from services.inventory import store

TOPIC = Topic.INVENTORY_COMMANDS


def build_app(client: DaprClient) -> App:
    app = App()
    handling = CommandHandling(client, AppId.INVENTORY)

    @app.subscribe(**default_route(TOPIC))
    def unknown_inventory_command(event: SubscriptionMessage) -> TopicEventResponse:
        return handling.reject_unknown(event)

    @app.subscribe(**command_route(TOPIC, EventType.INVENTORY_RESERVE, 1))
    def reserve_inventory(event: SubscriptionMessage) -> TopicEventResponse:
        return handling.handle(event, ReserveInventory, lambda c: store.reserve(client, c))

    @app.subscribe(**command_route(TOPIC, EventType.INVENTORY_RELEASE, 2))
    def release_inventory(event: SubscriptionMessage) -> TopicEventResponse:
        return handling.handle(event, ReleaseInventory, lambda c: store.release(client, c))

    return app
