"""`python -m services.payment`: serves payment commands."""

from __future__ import annotations

from pydantic import Field

from services.common.startup import ServiceSettings, serve, start
from services.contracts.names import AppId
from services.payment.app import build_app
from services.payment.rules import DEFAULT_LIMIT_CENTS


class PaymentSettings(ServiceSettings):
    """`PAYMENT_LIMIT_CENTS`: the most one customer may be charged (default 500000)."""

    payment_limit_cents: int = Field(DEFAULT_LIMIT_CENTS, gt=0)


def main() -> None:
    settings, client = start(AppId.PAYMENT, PaymentSettings)
    serve(build_app(client, settings.payment_limit_cents), settings, default_port=6002)


if __name__ == "__main__":
    main()
