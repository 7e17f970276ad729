"""Orders placed through the management API (`POST /v1/orders`) as a shop's checkout does
it: each one retried until the platform accepts it (202), through outages.

A crash test and a soak place their orders this way rather than on the `orders` topic:
the API is the front door, so a platform that is down, or comes back without its API or
its sidecar, shows as refused or failed calls. A call that fails for want of the platform
(no connection, a connection cut mid-call, a 5xx) is tried again with the same order, as
at-least-once clients do (a saga starts once per order id, so a repeat is harmless), until
202 or `give_up_after` seconds; a 4xx is the client's fault and is not retried. Each order's
`Placement` says when it was first tried, when it was accepted, and what failed on the way.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import httpx

from sagactl.api_client import ApiCallFailed, CannotConnect, SagaApi
from services.contracts.messages import OrderPlaced

RETRY_INTERVAL = 0.2


@dataclass
class Placement:
    """One order's way through the API: monotonic times, and each failed attempt's reason."""

    order_id: str
    first_try: float
    accepted_at: float | None = None
    failures: list[tuple[float, str]] = field(default_factory=list)
    refused: str | None = None  # a 4xx, or the last failure when the client gave up

    @property
    def accepted(self) -> bool:
        return self.accepted_at is not None


class ApiOrders:
    """Places orders through one platform's API; thread-safe, one HTTP client per thread
    (an `httpx.Client` holds a pool that is not meant to be shared across threads)."""

    def __init__(
        self, api_url: str, token: str, give_up_after: float = 180.0, timeout: float = 10.0
    ) -> None:
        self.api_url = api_url
        self.token = token
        self.give_up_after = give_up_after
        self.timeout = timeout
        self.placements: dict[str, Placement] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._clients = ExitStack()

    def place(self, order: OrderPlaced) -> Placement:
        """Until the API accepts `order` (202), a 4xx refuses it, or the client gives up."""
        placement = Placement(order.order_id, time.monotonic())
        with self._lock:
            self.placements[order.order_id] = placement
        body = json.loads(order.to_json())
        while True:
            try:
                self._api().place_order(body)
                placement.accepted_at = time.monotonic()
                return placement
            except ApiCallFailed as error:
                if error.status < 500:
                    placement.refused = f"{error.status} {error}"
                    return placement
                reason = f"{error.status} {error.code}"
            except (CannotConnect, httpx.HTTPError) as error:
                reason = type(error).__name__
            placement.failures.append((time.monotonic(), reason))
            if time.monotonic() - placement.first_try > self.give_up_after:
                placement.refused = f"gave up after {self.give_up_after}s: {reason}"
                return placement
            time.sleep(RETRY_INTERVAL)  # a client's back-off before it tries again

    def failures_since(self, moment: float) -> int:
        """Failed attempts, of any order, since `moment` (`time.monotonic()`)."""
        with self._lock:
            placements = list(self.placements.values())
        return sum(at >= moment for p in placements for at, _ in p.failures)

    def accepted(self) -> list[Placement]:
        with self._lock:
            return [p for p in self.placements.values() if p.accepted]

    def close(self) -> None:
        with self._lock:
            self._clients.close()

    def _api(self) -> SagaApi:
        client: SagaApi | None = getattr(self._local, "client", None)
        if client is None:
            client = SagaApi(self.api_url, self.token, timeout=self.timeout)
            self._local.client = client
            with self._lock:
                self._clients.enter_context(client)
        return client
