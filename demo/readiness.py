"""When a platform the runner started is ready to take orders.

"Running" is not yet "ready": an app registers its subscriptions with its sidecar only
once the sidecar reaches the app's port. The embedded pub/sub keeps a message published to
a topic no app subscribes to yet (for its retention period, docs/sidecar-runtime.md), but
until every service is connected a saga sits waiting for its replies and may time out.
Ready therefore means, in this order:

1. the runner said it started every app (`runner: all N apps are running`, the one line of
   its output the launcher reads: the runner has no other way to say so);
2. each platform app's subscriptions (`services.contracts.topology`) show in its
   sidecar's `GET /v1.0/metadata`, on the port the launcher planned;
3. the management API answers `GET /healthz`;
4. the API reads the inventory's stock (`GET /v1/inventory/stock`): the state store
   answers and the inventory has seeded its catalogue.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from services.contracts import topology
from services.contracts.names import AppId
from sidecar.runner.plan import Launch

_POLL = 0.1


def wait_ready(
    launches: Sequence[Launch],
    api_url: str | None,
    api_token: str | None,
    *,
    started: Callable[[], bool],
    running: Callable[[], bool],
    cancelled: Callable[[], bool],
    timeout: float,
) -> bool:
    """True once the platform is ready; False when the runner stopped `running()` or
    `cancelled()` turned true first. Raises `TimeoutError` after `timeout` seconds,
    naming what was still missing."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        for check in _checks(http, launches, api_url, api_token, started):
            while True:
                if not running() or cancelled():
                    return False
                missing = check()
                if not missing:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout:g}s: waiting for {missing}")
                time.sleep(_POLL)
    return True


def _checks(
    http: httpx.Client,
    launches: Sequence[Launch],
    api_url: str | None,
    api_token: str | None,
    started: Callable[[], bool],
) -> Iterator[Callable[[], str]]:
    """Each check returns what it still waits for, or "" once it passes."""
    yield lambda: "" if started() else "the runner to report every app up"
    for launch in launches:
        if launch.app_id in topology.SUBSCRIPTIONS:
            yield functools.partial(_subscribed, http, launch)
    if api_url is not None:
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        yield lambda: _answers(http, f"{api_url}/healthz", headers, "the management API")
        if any(launch.app_id == AppId.INVENTORY for launch in launches):
            yield lambda: _answers(
                http, f"{api_url}/v1/inventory/stock", headers, "the inventory's stock"
            )


def _subscribed(http: httpx.Client, launch: Launch) -> str:
    expected = topology.subscribed_topics(launch.app_id)
    waiting = f"app '{launch.app_id}' to subscribe to {', '.join(sorted(expected))}"
    token = launch.sidecar_env.get("DAPR_API_TOKEN")
    headers = {"dapr-api-token": token} if token else {}
    try:
        response = http.get(
            f"http://{launch.host}:{launch.http_port}/v1.0/metadata", headers=headers
        )
        body: Any = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return waiting
    topics = {s.get("topic") for s in body.get("subscriptions", []) if isinstance(s, dict)}
    return "" if expected <= topics else waiting


def _answers(http: httpx.Client, url: str, headers: Mapping[str, str], what: str) -> str:
    try:
        response = http.get(url, headers=headers)
    except httpx.HTTPError:
        return what
    if response.status_code != 200:
        return what
    if url.endswith("/stock"):
        try:
            return "" if response.json().get("items") else what
        except ValueError:
            return what
    return ""
