"""Payment's Dapr wiring: `payment-commands` routed by event type to the store."""

from __future__ import annotations

from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.ext.grpc import App, SubscriptionMessage

from services.common.messaging import CommandHandling, command_route, default_route
from services.contracts.models import ChargePayment, RefundPayment
from services.contracts.names import AppId, EventType, Topic
from services.payment import store

TOPIC = Topic.PAYMENT_COMMANDS


def build_app(client: DaprClient, limit_cents: int) -> App:
    app = App()
    handling = CommandHandling(client, AppId.PAYMENT)

    @app.subscribe(**default_route(TOPIC))
    def unknown_payment_command(event: SubscriptionMessage) -> TopicEventResponse:
        return handling.reject_unknown(event)

    @app.subscribe(**command_route(TOPIC, EventType.PAYMENT_CHARGE, 1))
    def charge_payment(event: SubscriptionMessage) -> TopicEventResponse:
        return handling.handle(event, ChargePayment, lambda c: store.charge(client, limit_cents, c))

    @app.subscribe(**command_route(TOPIC, EventType.PAYMENT_REFUND, 2))
    def refund_payment(event: SubscriptionMessage) -> TopicEventResponse:
        return handling.handle(event, RefundPayment, lambda c: store.refund(client, c))

    return app
