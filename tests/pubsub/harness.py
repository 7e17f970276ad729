"""The runtime-API tests' processes: sidecars on a resources folder, subscriber apps and
SDK clients pointed at a given sidecar, all started for one test and stopped after it.

The processes themselves are the testing kit's (`testkit.sidecar`, `testkit.observer`);
shared by `tests/pubsub`, `tests/state` and `tests/runtime` through their conftests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dapr.aio.clients import DaprClient as AsyncDaprClient
from dapr.clients import DaprClient

from services.contracts.names import PUBSUB
from services.contracts.names import STATESTORE as STATE
from testkit.observer import Event, SubscriberApp
from testkit.resources import component, write_resources
from testkit.sidecar import SidecarProcess, wait_connected

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Pair:
    sidecar: SidecarProcess
    app: SubscriberApp


class Cluster:
    """Starts sidecars, apps and SDK clients for one test and stops them all afterwards."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.resources_dir = root / "resources"
        self._monkeypatch = monkeypatch
        self._sidecars: list[SidecarProcess] = []
        self._apps: list[SubscriberApp] = []
        self._clients: list[DaprClient] = []

    def resources(
        self, documents: dict[str, dict[str, Any] | str], folder: Path | None = None
    ) -> Path:
        return write_resources(folder or self.resources_dir, documents)

    def sidecar(
        self,
        app_id: str,
        *,
        label: str = "",
        app: SubscriberApp | None = None,
        data_dir: Path | None = None,
        resources: Path | None = None,
        env: dict[str, str] | None = None,
        start: bool = True,
        args: list[str] | None = None,
    ) -> SidecarProcess:
        args = ["--resources-path", str(resources or self.resources_dir), *(args or [])]
        if app is not None:
            args += ["--app-port", str(app.port)]
        sidecar = SidecarProcess(
            data_dir=data_dir or self.data_dir,
            app_id=app_id,
            label=label or app_id,
            extra_args=args,
            env=env or {},
        )
        self._sidecars.append(sidecar)
        return sidecar.start() if start else sidecar

    def app(
        self, label: str, subscriptions: list[dict[str, Any]], env: dict[str, str] | None = None
    ) -> SubscriberApp:
        app = SubscriberApp(self.root / "apps", label, subscriptions, env=env or {})
        self._apps.append(app)
        return app.start()

    def pair(
        self,
        app_id: str,
        subscriptions: list[dict[str, Any]],
        *,
        label: str = "",
        app_env: dict[str, str] | None = None,
        sidecar_env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        sidecar_args: list[str] | None = None,
    ) -> Pair:
        """An app and its sidecar, returned once the sidecar delivers to the app."""
        label = label or app_id
        app = self.app(label, subscriptions, env=app_env)
        sidecar = self.sidecar(
            app_id, label=label, app=app, data_dir=data_dir, env=sidecar_env, args=sidecar_args
        )
        wait_connected(sidecar, token=(sidecar_env or {}).get("DAPR_API_TOKEN"))
        return Pair(sidecar, app)

    def client(self, sidecar: SidecarProcess, token: str | None = None) -> DaprClient:
        """The SDK's sync client for `sidecar`; `token` goes in `DAPR_API_TOKEN`."""
        self._point_sdk_at(sidecar, token)
        client = DaprClient(address=sidecar.address)
        self._clients.append(client)
        return client

    def async_client(self, sidecar: SidecarProcess, token: str | None = None) -> AsyncDaprClient:
        """The SDK's asyncio client; the caller closes it (`async with`)."""
        self._point_sdk_at(sidecar, token)
        return AsyncDaprClient(address=sidecar.address)

    def _point_sdk_at(self, sidecar: SidecarProcess, token: str | None) -> None:
        # The SDK probes the sidecar's HTTP health endpoint before connecting, and reads
        # its API token from the environment when the client is built.
        self._monkeypatch.setenv("DAPR_HTTP_PORT", str(sidecar.http_port))
        self._monkeypatch.setenv("DAPR_HEALTH_TIMEOUT", "10")
        self._monkeypatch.delenv("DAPR_HTTP_ENDPOINT", raising=False)
        self._monkeypatch.delenv("DAPR_GRPC_ENDPOINT", raising=False)
        if token is None:
            self._monkeypatch.delenv("DAPR_API_TOKEN", raising=False)
        else:
            self._monkeypatch.setenv("DAPR_API_TOKEN", token)

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for app in self._apps:
            app.kill()
        for sidecar in self._sidecars:
            sidecar.stop()


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    processes = Cluster(tmp_path, monkeypatch)
    yield processes
    processes.close()


def sqlite_pubsub(metadata: dict[str, str] | None = None) -> dict[str, dict[str, Any] | str]:
    return {"pubsub.yaml": component(PUBSUB, "pubsub.sqlite", metadata)}


def all_ids(events: list[Event]) -> list[str]:
    return [event["id"] for event in events]


__all__ = ["PUBSUB", "ROOT", "STATE", "Cluster", "Pair", "all_ids", "cluster", "sqlite_pubsub"]
