"""`python -m services.payment`: the card edge (`VAULT_PORT`), then payment commands."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import Field, SecretStr

from services.common.startup import Port, ServiceSettings, serve, start
from services.contracts.names import AppId
from services.payment.app import build_app
from services.payment.card_api import create_card_api, serve_card_api
from services.payment.rules import DEFAULT_LIMIT_CENTS
from services.payment.vault import CardVault, load_key

log = logging.getLogger("services.payment")


class PaymentSettings(ServiceSettings):
    """- `PAYMENT_LIMIT_CENTS`: the most one charge may be (default 500000).
    - `VAULT_PORT`, `VAULT_HOST`: the card edge, `POST /v1/tokens` (default 8090 on
      127.0.0.1; port 0: not served).
    - `PAYMENT_VAULT_KEY`: the vault key, 32 bytes in base64 (a Secret in a cluster);
      without it, `PAYMENT_VAULT_KEY_FILE` (default `.data/payment-vault.key`, written on
      first start).
    """

    payment_limit_cents: int = Field(DEFAULT_LIMIT_CENTS, gt=0)
    vault_port: Port = 8090
    vault_host: str = "127.0.0.1"
    payment_vault_key: SecretStr | None = None
    payment_vault_key_file: Path = Path(".data/payment-vault.key")


def main() -> None:
    settings, client = start(AppId.PAYMENT, PaymentSettings)
    secret = settings.payment_vault_key.get_secret_value() if settings.payment_vault_key else None
    try:
        key = load_key(secret, settings.payment_vault_key_file)
    except (ValueError, OSError) as error:
        log.error("no vault key; set PAYMENT_VAULT_KEY", extra={"reason": str(error)})
        raise SystemExit(2) from None
    vault = CardVault(client, key)
    if settings.vault_port:
        serve_card_api(create_card_api(vault), settings.vault_host, settings.vault_port)
    serve(build_app(client, settings.payment_limit_cents, vault), settings, default_port=6002)


if __name__ == "__main__":
    main()
