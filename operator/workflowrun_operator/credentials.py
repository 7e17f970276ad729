"""Where the operator's bearer token for the management API comes from.

In a cluster the operator is an OAuth2 client of the platform's OIDC provider: it asks the
provider's token endpoint for a token with the client-credentials grant (client id and
secret from a Secret), keeps it until shortly before it expires, and asks again after the
API refused it (a rotated key). The provider puts the `operator` role in the token, as it
does for people. Out of a cluster (tests, a laptop) a fixed token does (`ORCHESTRATOR_TOKEN`).
"""

from __future__ import annotations

import time
from typing import Protocol

import httpx

# A token is renewed this long before it expires, so no request carries a dying one.
RENEW_BEFORE_SECONDS = 60.0


class CredentialsError(Exception):
    """The token endpoint refused the client or could not be reached."""


class TokenSource(Protocol):
    async def token(self, *, renew: bool = False) -> str | None:
        """The bearer token to send; `renew` after the API refused the last one."""


class FixedToken:
    def __init__(self, value: str | None) -> None:
        self.value = value

    async def token(self, *, renew: bool = False) -> str | None:
        return self.value


class ClientCredentials:
    """OAuth 2.0 client-credentials grant (RFC 6749, 4.4) against `token_url`."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        audience: str | None = None,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.token_url = token_url
        self.form = {"grant_type": "client_credentials"}
        if scope:
            self.form["scope"] = scope
        if audience:
            self.form["audience"] = audience
        self._auth = (client_id, client_secret)
        self._http = httpx.AsyncClient(timeout=timeout_seconds, transport=transport)
        self._value: str | None = None
        self._renew_at = 0.0

    async def token(self, *, renew: bool = False) -> str | None:
        if renew or self._value is None or time.monotonic() >= self._renew_at:
            await self._fetch()
        return self._value

    async def _fetch(self) -> None:
        try:
            response = await self._http.post(self.token_url, data=self.form, auth=self._auth)
        except httpx.TransportError as error:
            raise CredentialsError(f"token endpoint {self.token_url}: {error}") from error
        if not response.is_success:
            raise CredentialsError(
                f"token endpoint {self.token_url} -> {response.status_code}: {response.text[:200]}"
            )
        body = response.json()
        self._value = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 300)
        self._renew_at = time.monotonic() + max(0.0, lifetime - RENEW_BEFORE_SECONDS)

    async def aclose(self) -> None:
        await self._http.aclose()
