"""Payment's Dapr wiring: its topology routes (`payment-commands`) to the store."""

from __future__ import annotations

from functools import partial

from dapr.clients import DaprClient
from dapr.ext.grpc import App

from services.common.messaging import command_app
from services.contracts.names import AppId, EventType
from services.payment import store
from services.payment.vault import CardVault


def build_app(client: DaprClient, limit_cents: int, vault: CardVault) -> App:
    return command_app(
        client,
        AppId.PAYMENT,
        {
            EventType.PAYMENT_CHARGE: partial(store.charge, client, vault, limit_cents),
            EventType.PAYMENT_REFUND: partial(store.refund, client),
        },
    )
