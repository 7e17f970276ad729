"""Fixtures of the fidelity tests: the runtime under test (one per entry of
`runtimes.STARTERS`: every test runs on the embedded sidecar and on daprd), and the Python
SDK's workers and clients of its apps.

A test marked `differs_on_daprd(reason)` is a strict xfail on daprd: it records a known
difference, and fails the run once daprd behaves as the test expects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from testkit.observer import SubscriberApp
from tests.fidelity.runtimes import STARTERS, AppRuntime, Sdk, StartApp


@pytest.fixture(params=sorted(STARTERS))
def start_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StartApp]:
    """Starts the runtime of an app id (`start_app("shop")`); all apps of one test can call
    each other."""
    marker = request.node.get_closest_marker("differs_on_daprd")
    if marker is not None and request.param == "daprd":
        request.applymarker(pytest.mark.xfail(reason=marker.args[0], strict=True))
    with STARTERS[request.param](tmp_path) as start:
        yield start


@pytest.fixture
def app(start_app: StartApp) -> AppRuntime:
    return start_app("fidelity-app")


@pytest.fixture
def sdk() -> Iterator[Sdk]:
    sdk = Sdk()
    yield sdk
    sdk.close()


class Subscriber(Protocol):
    def __call__(
        self, label: str, subscriptions: list[dict[str, Any]], *, start: bool = True
    ) -> SubscriberApp: ...


@pytest.fixture
def subscriber(tmp_path: Path) -> Iterator[Subscriber]:
    """Starts the recording subscriber app (`testkit.subscriber_app`): `subscriber(label,
    [sub("orders"), ...])`; give its port to `start_app(..., app_port=app.port)`. With
    `start=False` it is only given its port (`.start()` it later)."""
    apps: list[SubscriberApp] = []

    def start(
        label: str, subscriptions: list[dict[str, Any]], *, start: bool = True
    ) -> SubscriberApp:
        apps.append(SubscriberApp(tmp_path / "apps", label, subscriptions))
        return apps[-1].start() if start else apps[-1]

    yield start
    for app in apps:
        app.kill()
