"""The payment service's card edge: the one door a card number comes in by.

`POST /v1/tokens` `{"number": "4242…"}` answers `201 {"token", "brand", "last4"}`: the
card is in the vault (services/payment/vault.py), and the caller places its order with
the token. An upstream system (a checkout page, the CLI's `orders place --card`) calls
it directly, the way a shop's page sends the card to its payment provider: no other app,
topic or workflow of the platform sees the number, so only the payment service is in a
card-data audit's scope.

The number is never echoed: not in an answer, not in an error (FastAPI's validation
errors repeat the input; these do not), not in a log line (no access log; the line about
a new token names the token, brand and last four). Served by uvicorn on `VAULT_PORT`,
in a thread of the payment process; `GET /healthz` for probes.
"""

from __future__ import annotations

import logging
import threading
import time
from http import HTTPStatus

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.contracts.messages import Contract, PaymentToken
from services.payment.vault import CardVault, NotACardNumber

log = logging.getLogger("services.payment.card_api")

PROBLEM_JSON = "application/problem+json"


class CardIn(BaseModel):
    """A card to tokenize. The number is a `SecretStr`: printed, it shows as stars."""

    model_config = ConfigDict(extra="forbid")

    number: SecretStr = Field(description="The card number, 12 to 19 digits.")


class TokenOut(Contract):
    """What the platform may know of the card: its token, brand and last four digits."""

    token: PaymentToken
    brand: str
    last4: str


def _problem(status: HTTPStatus, code: str, detail: str) -> JSONResponse:
    body = {"title": status.phrase, "status": int(status), "code": code, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def create_card_api(vault: CardVault) -> FastAPI:
    api = FastAPI(
        title="Payment card vault",
        version="1",
        description="Tokenizes cards: the only API of the platform that takes a card number.",
    )

    async def invalid_request(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        # Where and what, never the input itself.
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in error.errors()
        )
        return _problem(HTTPStatus.UNPROCESSABLE_ENTITY, "INVALID_REQUEST", where)

    async def not_a_card(request: Request, error: Exception) -> JSONResponse:
        return _problem(HTTPStatus.UNPROCESSABLE_ENTITY, "INVALID_CARD_NUMBER", str(error))

    api.add_exception_handler(RequestValidationError, invalid_request)
    api.add_exception_handler(NotACardNumber, not_a_card)

    @api.post(
        "/v1/tokens",
        status_code=HTTPStatus.CREATED,
        summary="Tokenize a card: its number goes into the vault, the token comes back",
        responses={422: {"description": "Not a card number, or not a valid request."}},
    )
    def tokenize(card: CardIn) -> TokenOut:
        entry = vault.tokenize(card.number.get_secret_value())
        log.info(
            "card tokenized",
            extra={"token": entry.token, "brand": entry.brand, "last4": entry.last4},
        )
        return TokenOut(token=entry.token, brand=entry.brand, last4=entry.last4)

    @api.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api


def serve_card_api(api: FastAPI, host: str, port: int, timeout: float = 30.0) -> uvicorn.Server:
    """Serves `api` from a daemon thread and returns once it listens (`should_exit` stops
    it); `RuntimeError` when it cannot (the port is taken), so the service does not run
    without its card edge."""
    server = uvicorn.Server(
        uvicorn.Config(api, host=host, port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="card-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the card edge cannot serve on {host}:{port}")
        time.sleep(0.05)
    log.info("serving the card edge", extra={"port": port})
    return server
