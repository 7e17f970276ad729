"""`python -m services.shipping`: serves shipping commands."""

from __future__ import annotations

from services.common.startup import ServiceSettings, serve, start
from services.contracts.names import AppId
from services.shipping.app import build_app
from services.shipping.rules import countries


class ShippingSettings(ServiceSettings):
    """`SHIPPING_COUNTRIES`: comma-separated ISO codes of the destinations served
    (default US,CA,GB,DE,FR,NL)."""

    shipping_countries: str | None = None


def main() -> None:
    settings, client = start(AppId.SHIPPING, ShippingSettings)
    serve(build_app(client, countries(settings.shipping_countries)), settings, default_port=6003)


if __name__ == "__main__":
    main()
