"""Inventory's Dapr wiring: its topology routes (`inventory-commands`) to the store."""

from __future__ import annotations

from functools import partial

from dapr.clients import DaprClient
from dapr.ext.grpc import App

from services.common.messaging import command_app
from services.contracts.names import AppId, EventType
from services.inventory import store


def build_app(client: DaprClient) -> App:
    return command_app(
        client,
        AppId.INVENTORY,
        {
            EventType.INVENTORY_RESERVE: partial(store.reserve, client),
            EventType.INVENTORY_RELEASE: partial(store.release, client),
            EventType.INVENTORY_COMMIT: partial(store.commit, client),
        },
    )
