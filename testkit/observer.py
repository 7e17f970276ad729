"""The recording subscriber app (`testkit.subscriber_app`) as a process, and its records.

A test sees pub/sub the way a downstream system does: through an app subscribed to the
topics it cares about. The app appends one JSON line per delivery; `Observer` reads that
file as it grows (complete lines only, never the line being written), stamping each
record with when it was first read, which the benchmarks turn into latencies.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from services.contracts.names import PUBSUB, Topic
from services.contracts.topology import STATUS_EVENT_TYPES
from testkit.polling import wait_for_matches
from testkit.ports import free_port
from testkit.process import ManagedProcess

Event = dict[str, Any]


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
    """One subscription of a subscriber app (see `testkit.subscriber_app`)."""
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


def subscriber_command(
    config: Path, *, port: int, events: Path, label: str, subscriptions: list[dict[str, Any]]
) -> tuple[str, ...]:
    """Writes the app's config to `config`; returns the command line that runs the app."""
    config.parent.mkdir(parents=True, exist_ok=True)
    events.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        json.dumps(
            {"port": port, "events": str(events), "label": label, "subscriptions": subscriptions}
        )
    )
    return (sys.executable, "-m", "testkit.subscriber_app", str(config))


def data_of(event: Event) -> Any:
    """The event's data, parsed when it is JSON."""
    text = event.get("data_text", "")
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class Delivery:
    """One message the app received; `seen_at` is `time.monotonic()` when first read."""

    topic: str
    type: str
    data: Any
    seen_at: float

    @property
    def order_id(self) -> str | None:
        return self.data.get("orderId") if isinstance(self.data, dict) else None


class Observer:
    """Reads a subscriber app's event log as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._records: list[Event] = []
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def records(self) -> list[Event]:
        """Every record so far, as the app wrote it (see `testkit.subscriber_app`)."""
        with self._lock:
            self._read_new()
            return list(self._records)

    def deliveries(self, topic: str | None = None) -> list[Delivery]:
        with self._lock:
            self._read_new()
            found = list(self._deliveries)
        return [d for d in found if topic is None or d.topic == topic]

    def statuses(self, order_id: str | None = None) -> list[Delivery]:
        return [
            d
            for d in self.deliveries(Topic.ORDER_STATUS)
            if order_id is None or d.order_id == order_id
        ]

    def finals(self) -> dict[str, Delivery]:
        """The first terminal status event of each order."""
        first: dict[str, Delivery] = {}
        for delivery in self.statuses():
            if delivery.type in STATUS_EVENT_TYPES and delivery.order_id is not None:
                first.setdefault(delivery.order_id, delivery)
        return first

    def wait_for(
        self,
        predicate: Callable[[Delivery], bool],
        count: int = 1,
        timeout: float = 60.0,
        what: str = "",
    ) -> list[Delivery]:
        return wait_for_matches(
            self.deliveries, predicate, count, timeout, what=what or "observer events"
        )

    def wait_final(self, order_id: str, timeout: float = 60.0) -> Delivery:
        """The order's terminal status event (`order.completed`, `.failed`, `.compensated`)."""
        return self.wait_for(
            lambda d: (
                d.topic == Topic.ORDER_STATUS
                and d.type in STATUS_EVENT_TYPES
                and d.order_id == order_id
            ),
            timeout=timeout,
            what=f"the final status of order {order_id}",
        )[0]

    def _read_new(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as file:
            file.seek(self._offset)
            chunk = file.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        now = time.monotonic()
        for line in chunk[: end + 1].splitlines():
            record: Event = json.loads(line)
            self._records.append(record)
            self._deliveries.append(Delivery(record["topic"], record["type"], data_of(record), now))
        self._offset += end + 1


@dataclass
class SubscriberApp:
    """A `testkit.subscriber_app` process; `events()` reads what it received. It serves
    once its sidecar is connected to it (`testkit.sidecar.wait_connected`)."""

    workdir: Path
    label: str
    subscriptions: list[dict[str, Any]]
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    managed: ManagedProcess | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.observer = Observer(self.events_path)

    @property
    def events_path(self) -> Path:
        return self.workdir / f"{self.label}-events.jsonl"

    def start(self) -> Self:
        argv = subscriber_command(
            self.workdir / f"{self.label}-app.json",
            port=self.port,
            events=self.events_path,
            label=self.label,
            subscriptions=self.subscriptions,
        )
        self.managed = ManagedProcess(
            f"subscriber app {self.label}",
            argv,
            self.workdir / f"{self.label}-app.log",
            env={**os.environ, **self.env},
        ).start()
        return self

    def kill(self) -> None:
        if self.managed is not None:
            self.managed.kill()

    def events(self) -> list[Event]:
        return self.observer.records()

    def wait_for(
        self,
        predicate: Callable[[Event], bool] = lambda event: True,
        count: int = 1,
        timeout: float = 20.0,
        what: str = "",
    ) -> list[Event]:
        """Waits until at least `count` received events satisfy `predicate`; returns them."""
        return wait_for_matches(
            self.events,
            predicate,
            count,
            timeout,
            what=what or f"{count} event(s) at app {self.label}",
        )
