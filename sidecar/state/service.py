"""The sidecar's state stores by component name, with daprd's key prefixing and outbox.

daprd stores an app's key `k` as `<app-id>||k` by default (component metadata `keyPrefix`:
`appid`, `name` for the component name, `none`, or any other string as a fixed prefix), so
apps sharing a database do not see each other's keys. A store with `outboxPublishPubsub`
and `outboxPublishTopic` publishes its transactions' upserts (see `outbox`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sidecar.errors import lookup_component
from sidecar.resources.definitions import Component, Resources
from sidecar.resources.fields import parse_duration
from sidecar.resources.metadata import OUTBOX_PUBSUB, OUTBOX_TOPIC
from sidecar.state.outbox import OutboxRelay, OutboxSettings
from sidecar.state.store import OutboxMessage, StateStore


@dataclass
class NamedStore:
    name: str
    store: StateStore
    prefix: str
    outbox: OutboxSettings | None = None

    def key(self, key: str) -> str:
        return f"{self.prefix}||{key}" if self.prefix else key

    def app_key(self, stored: str) -> str:
        """The key as the app named it, without the prefix."""
        head = f"{self.prefix}||"
        return stored[len(head) :] if self.prefix and stored.startswith(head) else stored


class StateService:
    def __init__(
        self, resources: Resources, app_id: str, data_dir: Path, max_bytes: int | None = None
    ) -> None:
        self.app_id = app_id
        self.stores: dict[str, NamedStore] = {}
        for component in resources.components:
            if component.kind == "state":
                self.stores[component.name] = NamedStore(
                    component.name,
                    StateStore(
                        component.database_path(data_dir, "state"),
                        table=component.metadata.get("tableName", "state"),
                        busy_timeout=parse_duration(
                            component.metadata.get("busyTimeout", "30s"),
                            component.source,
                            "spec.metadata.busyTimeout",
                        ),
                        max_bytes=max_bytes,
                    ),
                    _prefix(component, app_id),
                    _outbox(component),
                )
        self.relay: OutboxRelay | None = None

    def get(self, name: str) -> NamedStore:
        return lookup_component(self.stores, name, "state store", "STATE_STORE")

    def start_outbox(self, publish: Callable[[OutboxMessage], Awaitable[None]]) -> None:
        """Starts publishing what the outbox stores committed (`publish` stores a message in
        its pubsub)."""
        stores = [n.store for n in self.stores.values() if n.outbox is not None]
        self.relay = OutboxRelay(self.app_id, stores, publish)
        self.relay.start()

    def outbox_written(self) -> None:
        """A transaction committed outbox messages: publish them now."""
        if self.relay is not None:
            self.relay.wake()

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()

    def close(self) -> None:
        for named in self.stores.values():
            named.store.close()


def _outbox(component: Component) -> OutboxSettings | None:
    pubsub = component.metadata.get(OUTBOX_PUBSUB)
    topic = component.metadata.get(OUTBOX_TOPIC)
    return OutboxSettings(pubsub, topic) if pubsub and topic else None


def _prefix(component: Component, app_id: str) -> str:
    strategy = component.metadata.get("keyPrefix", "appid")
    if strategy == "appid":
        return app_id
    if strategy == "name":
        return component.name
    if strategy == "none":
        return ""
    return strategy
