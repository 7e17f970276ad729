"""Shipping's Dapr wiring: its topology routes (`shipping-commands`) to the store."""

from __future__ import annotations

from collections.abc import Set
from functools import partial

from dapr.clients import DaprClient
from dapr.ext.grpc import App

from services.common.messaging import command_app
from services.contracts.names import AppId, EventType
from services.shipping import store


def build_app(client: DaprClient, supported: Set[str]) -> App:
    return command_app(
        client,
        AppId.SHIPPING,
        {
            EventType.SHIPPING_CREATE: partial(store.create, client, supported),
            EventType.SHIPPING_CANCEL: partial(store.cancel, client),
        },
    )
