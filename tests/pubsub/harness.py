"""Real processes for the runtime-API tests: sidecars with a resources folder, subscriber
apps (`tests.pubsub.subscriber_app`), SDK clients pointed at a given sidecar.

Shared by `tests/pubsub`, `tests/state` and `tests/runtime` through their conftests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from dapr.aio.clients import DaprClient as AsyncDaprClient
from dapr.clients import DaprClient

from tests.processes import SidecarProcess, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PUBSUB = "pubsub"
STATE = "statestore"

Event = dict[str, Any]


# --- resource documents ---------------------------------------------------------------


def component(
    name: str, type_: str, metadata: dict[str, str] | None = None, scopes: list[str] | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {
            "type": type_,
            "version": "v1",
            "metadata": [{"name": k, "value": v} for k, v in (metadata or {}).items()],
        },
    }
    if scopes is not None:
        document["scopes"] = scopes
    return document


def subscription(
    name: str,
    topic: str,
    *,
    default: str = "",
    rules: tuple[tuple[str, str], ...] = (),
    dead_letter_topic: str = "",
    pubsub: str = PUBSUB,
    scopes: list[str] | None = None,
) -> dict[str, Any]:
    routes: dict[str, Any] = {}
    if default:
        routes["default"] = default
    if rules:
        routes["rules"] = [{"match": match, "path": path} for match, path in rules]
    spec: dict[str, Any] = {"pubsubname": pubsub, "topic": topic, "routes": routes}
    if dead_letter_topic:
        spec["deadLetterTopic"] = dead_letter_topic
    document: dict[str, Any] = {
        "apiVersion": "dapr.io/v2alpha1",
        "kind": "Subscription",
        "metadata": {"name": name},
        "spec": spec,
    }
    if scopes is not None:
        document["scopes"] = scopes
    return document


def resiliency(
    pubsub: str = PUBSUB,
    *,
    duration: str = "50ms",
    max_retries: int = 2,
    policy: str = "constant",
    timeout: str = "",
) -> dict[str, Any]:
    """A Resiliency whose inbound retry for `pubsub` is short, so retries finish fast;
    `timeout` adds an inbound timeout for each call to the app."""
    inbound = {"retry": "quick"}
    policies: dict[str, Any] = {
        "retries": {"quick": {"policy": policy, "duration": duration, "maxRetries": max_retries}}
    }
    if timeout:
        inbound["timeout"] = "short"
        policies["timeouts"] = {"short": timeout}
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Resiliency",
        "metadata": {"name": "fast-retries"},
        "spec": {
            "policies": policies,
            "targets": {"components": {pubsub: {"inbound": inbound}}},
        },
    }


def write_resources(folder: Path, documents: dict[str, dict[str, Any] | str]) -> Path:
    """One file per entry: a document is dumped as YAML, a string is written as is."""
    folder.mkdir(parents=True, exist_ok=True)
    for filename, document in documents.items():
        text = document if isinstance(document, str) else yaml.safe_dump(document)
        (folder / filename).write_text(text)
    return folder


# --- processes ------------------------------------------------------------------------


@dataclass
class Sidecar(SidecarProcess):
    """A sidecar with HTTP and log helpers for the pub/sub, state and runtime tests."""

    def http_get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}")
        if token is not None:
            request.add_header("dapr-api-token", token)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read()

    def metadata(self, token: str | None = None) -> dict[str, Any]:
        """daprd's HTTP `/v1.0/metadata` document."""
        status, body = self.http_get("/v1.0/metadata", token)
        assert status == 200, body
        document: dict[str, Any] = json.loads(body)
        return document

    def subscribed_topics(self) -> set[str]:
        return {s["topic"] for s in self.metadata().get("subscriptions", [])}

    def log_lines(self) -> list[dict[str, Any]]:
        """The sidecar's structured log, one dict per JSON line."""
        assert self.log_path is not None
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


@dataclass
class SubscriberApp:
    """A `tests.pubsub.subscriber_app` process; `events()` reads what it received."""

    workdir: Path
    label: str
    subscriptions: list[dict[str, Any]]
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def events_path(self) -> Path:
        return self.workdir / f"{self.label}-events.jsonl"

    def start(self) -> SubscriberApp:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / f"{self.label}-app.json"
        config.write_text(
            json.dumps(
                {
                    "port": self.port,
                    "events": str(self.events_path),
                    "label": self.label,
                    "subscriptions": self.subscriptions,
                }
            )
        )
        with (self.workdir / f"{self.label}-app.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.pubsub.subscriber_app", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=ROOT,
            )
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def events(self) -> list[Event]:
        if not self.events_path.exists():
            return []
        events = []
        for line in self.events_path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:  # a line being written right now
                break
        return events

    def wait_for(
        self,
        predicate: Callable[[Event], bool] = lambda event: True,
        count: int = 1,
        timeout: float = 20.0,
        what: str = "",
    ) -> list[Event]:
        """Waits until at least `count` received events satisfy `predicate`; returns them."""

        def probe() -> list[Event] | None:
            matching = [event for event in self.events() if predicate(event)]
            return matching if len(matching) >= count else None

        return wait_until(
            probe, timeout=timeout, what=what or f"{count} event(s) at app {self.label}"
        )


@dataclass
class Pair:
    sidecar: Sidecar
    app: SubscriberApp


class Cluster:
    """Starts sidecars, apps and SDK clients for one test and stops them all afterwards."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.resources_dir = root / "resources"
        self._monkeypatch = monkeypatch
        self._sidecars: list[Sidecar] = []
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
    ) -> Sidecar:
        args = ["--resources-path", str(resources or self.resources_dir)]
        if app is not None:
            args += ["--app-port", str(app.port)]
        sidecar = Sidecar(
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
    ) -> Pair:
        """An app and its sidecar, returned once the sidecar delivers to the app."""
        label = label or app_id
        app = self.app(label, subscriptions, env=app_env)
        sidecar = self.sidecar(app_id, label=label, app=app, data_dir=data_dir, env=sidecar_env)
        wait_connected(sidecar, token=(sidecar_env or {}).get("DAPR_API_TOKEN"))
        return Pair(sidecar, app)

    def client(self, sidecar: Sidecar, token: str | None = None) -> DaprClient:
        """The SDK's sync client for `sidecar`; `token` goes in `DAPR_API_TOKEN`."""
        self._point_sdk_at(sidecar, token)
        client = DaprClient(address=sidecar.address)
        self._clients.append(client)
        return client

    def async_client(self, sidecar: Sidecar, token: str | None = None) -> AsyncDaprClient:
        """The SDK's asyncio client; the caller closes it (`async with`)."""
        self._point_sdk_at(sidecar, token)
        return AsyncDaprClient(address=sidecar.address)

    def _point_sdk_at(self, sidecar: Sidecar, token: str | None) -> None:
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


def wait_connected(sidecar: Sidecar, timeout: float = 30.0, token: str | None = None) -> None:
    """Until the sidecar has the app's subscriptions, that is, delivers to it."""
    wait_until(
        lambda: sidecar.metadata(token).get("subscriptions"),
        timeout=timeout,
        what=f"app of sidecar {sidecar.label} to be connected",
    )


def wait_topics(sidecar: Sidecar, topics: set[str], timeout: float = 30.0) -> None:
    """Until the sidecar delivers exactly `topics` to its app."""
    wait_until(
        lambda: sidecar.subscribed_topics() == topics,
        timeout=timeout,
        what=f"sidecar {sidecar.label} to subscribe to {sorted(topics)}",
    )


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    processes = Cluster(tmp_path, monkeypatch)
    yield processes
    processes.close()


def sub(
    topic: str,
    *,
    behaviour: str = "success",
    rules: list[dict[str, str]] | None = None,
    default: bool = True,
    dead_letter_topic: str = "",
    handler: str = "",
    pubsub: str = PUBSUB,
) -> dict[str, Any]:
    """One subscription of a subscriber app (see `tests.pubsub.subscriber_app`)."""
    return {
        "pubsub": pubsub,
        "topic": topic,
        "behaviour": behaviour,
        "rules": rules or [],
        "default": default,
        "dead_letter_topic": dead_letter_topic,
        "handler": handler
        or f"on-{topic}".replace("/", "-").replace("#", "all").replace("+", "any"),
    }


def data_of(event: Event) -> Any:
    """The event's data, parsed when it is JSON."""
    text = event["data_text"]
    try:
        return json.loads(text)
    except ValueError:
        return text


def sqlite_pubsub(metadata: dict[str, str] | None = None) -> dict[str, dict[str, Any] | str]:
    return {"pubsub.yaml": component(PUBSUB, "pubsub.sqlite", metadata)}


def all_ids(events: list[Event]) -> list[str]:
    return [event["id"] for event in events]


__all__ = [
    "PUBSUB",
    "STATE",
    "Cluster",
    "Pair",
    "Sidecar",
    "SubscriberApp",
    "all_ids",
    "cluster",
    "component",
    "data_of",
    "resiliency",
    "sqlite_pubsub",
    "sub",
    "subscription",
    "wait_connected",
    "wait_topics",
    "write_resources",
]
