"""The sidecar's state stores by component name, with daprd's key prefixing.

daprd stores an app's key `k` as `<app-id>||k` by default (component metadata `keyPrefix`:
`appid`, `name` for the component name, `none`, or any other string as a fixed prefix), so
apps sharing a database do not see each other's keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sidecar.errors import lookup_component
from sidecar.resources.definitions import Component, Resources
from sidecar.state.store import StateStore


@dataclass
class NamedStore:
    name: str
    store: StateStore
    prefix: str

    def key(self, key: str) -> str:
        return f"{self.prefix}||{key}" if self.prefix else key

    def app_key(self, stored: str) -> str:
        """The key as the app named it, without the prefix."""
        head = f"{self.prefix}||"
        return stored[len(head) :] if self.prefix and stored.startswith(head) else stored


class StateService:
    def __init__(self, resources: Resources, app_id: str, data_dir: Path) -> None:
        self.stores: dict[str, NamedStore] = {}
        for component in resources.components:
            if component.kind == "state":
                self.stores[component.name] = NamedStore(
                    component.name,
                    StateStore(
                        component.database_path(data_dir, "state"),
                        table=component.metadata.get("tableName", "state"),
                    ),
                    _prefix(component, app_id),
                )

    def get(self, name: str) -> NamedStore:
        return lookup_component(self.stores, name, "state store", "STATE_STORE")

    def close(self) -> None:
        for named in self.stores.values():
            named.store.close()


def _prefix(component: Component, app_id: str) -> str:
    strategy = component.metadata.get("keyPrefix", "appid")
    if strategy == "appid":
        return app_id
    if strategy == "name":
        return component.name
    if strategy == "none":
        return ""
    return strategy
