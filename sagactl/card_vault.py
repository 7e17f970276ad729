"""The payment service's card edge, as `orders place --card` uses it: the card number goes
to the vault (`POST /v1/tokens`) and nowhere else; the order the management API gets
carries the token the vault answers (docs/architecture.md, "Card data")."""

from __future__ import annotations

import os

import httpx

from sagactl.api_client import ApiCallFailed, CannotConnect

DEFAULT_VAULT_URL = "http://127.0.0.1:8090"


def vault_url(flag: str | None) -> str:
    """`--vault-url`, else `SAGA_VAULT_URL`, else the payment service's local default."""
    return flag or os.environ.get("SAGA_VAULT_URL") or DEFAULT_VAULT_URL


def tokenize(url: str, number: str, timeout: float = 30.0) -> dict[str, str]:
    """`{"token", "brand", "last4"}` for the card; `ApiCallFailed` when the vault refuses
    it, `CannotConnect` when nothing answers. No message repeats the number."""
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/v1/tokens", json={"number": number}, timeout=timeout
        )
    except httpx.TransportError as error:
        raise CannotConnect(f"cannot connect to the card vault at {url}: {error}") from None
    if response.is_error:
        try:
            problem = response.json()
            code, detail = str(problem["code"]), str(problem["detail"])
        except (ValueError, KeyError, TypeError):
            code, detail = f"HTTP_{response.status_code}", response.reason_phrase
        raise ApiCallFailed(response.status_code, code, f"the card vault refused: {detail}")
    token: dict[str, str] = response.json()
    return token


class SavedCards:
    """Each card tokenized once, its token used again (a shop's saved card): for demos
    and tests that place many orders with a few test cards."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._tokens: dict[str, str] = {}

    def token(self, card: str) -> str:
        if card not in self._tokens:
            self._tokens[card] = tokenize(self.url, card)["token"]
        return self._tokens[card]
