"""What every app counts for Prometheus, and how a command service serves it.

Each app process keeps its own counters in `prometheus_client`'s default registry; the
orchestrator serves them on its management API (`/metrics`), a command service on
`METRICS_PORT` when set (`serve_metrics`). Label values come from bounded sets (topology
topics, reason kinds), never from ids or free text, so a series count cannot grow with
traffic; ids belong to traces and logs.

Delivery is at least once, so an app may see the same message or run the same activity
twice. `Once` remembers what was counted (a bounded window, per process), so a duplicate
inside one process's lifetime is not counted again; docs/operations.md says where each
counter is counted and what a restart does to it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from enum import StrEnum

from prometheus_client import Counter, disable_created_metrics, start_http_server

from services.contracts.names import AppId
from services.contracts.topology import SUBSCRIPTIONS

# `_created` series double every counter for a value nobody alerts on.
disable_created_metrics()

# How many keys `Once` remembers: far more than the messages in flight at any moment.
ONCE_WINDOW = 100_000


class Once:
    """Answers True the first time it sees a key, False for a repeat within its window.

    Thread-safe: activities and pub/sub handlers run in thread pools."""

    def __init__(self, window: int = ONCE_WINDOW) -> None:
        self._seen: OrderedDict[Hashable, None] = OrderedDict()
        self._window = window
        self._lock = threading.Lock()

    def first(self, key: Hashable) -> bool:
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self._window:
                self._seen.popitem(last=False)
            return True


class DeadLetterReason(StrEnum):
    """Why an app dead-lettered a message, as the `reason` label says it (the dead letter
    itself carries the full text)."""

    INVALID_MESSAGE = "invalid_message"  # the payload failed its contract
    UNKNOWN_EVENT_TYPE = "unknown_event_type"  # no handler takes that event type here


DEAD_LETTERS = Counter(
    "saga_dead_letters",
    "Messages an app published to a dead-letter topic, each distinct message once.",
    ["app_id", "topic", "reason"],
)

_dead_letters_seen = Once()


def count_dead_letter(app_id: str, topic: str, event_id: str, reason: DeadLetterReason) -> None:
    """Counts a dead letter once per (app, topic, CloudEvent id): a redelivered bad message
    is dead-lettered again but is still one lost message."""
    if _dead_letters_seen.first((app_id, topic, event_id)):
        DEAD_LETTERS.labels(app_id, topic, reason).inc()


def declare_dead_letters(app_id: AppId) -> None:
    """Creates the app's dead-letter series at 0, so `increase()` sees the first one."""
    for subscription in SUBSCRIPTIONS[app_id]:
        for reason in DeadLetterReason:
            DEAD_LETTERS.labels(str(app_id), str(subscription.topic), reason)


def serve_metrics(port: int, host: str) -> None:
    """Serves the default registry on `http://host:port/metrics` from a daemon thread."""
    start_http_server(port, addr=host)
