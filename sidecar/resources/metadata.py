"""Which metadata each component type takes, so that none is ignored without a word.

daprd's components decode their metadata leniently: a name the component does not know (a
typo, a setting of another store) is dropped silently. The embedded sidecar refuses such a
name at start-up, naming it and the names the type takes. Names daprd knows are honoured,
or accepted where the setting has nothing to act on here (`ACCEPTED`, with the reason), or
refused where a value asks for what the sidecar does not do.
"""

from __future__ import annotations

from collections.abc import Mapping

from sidecar.resources.fields import ResourceError, parse_duration

OUTBOX_PUBSUB = "outboxPublishPubsub"
OUTBOX_TOPIC = "outboxPublishTopic"

# What a state store takes on top of its own metadata: daprd's runtime reads these.
_STATE = frozenset(
    {"keyPrefix", "actorStateStore", OUTBOX_PUBSUB, OUTBOX_TOPIC, "outboxPubsub"}
    | {"outboxDiscardWhenMissingState"}
)

KNOWN: Mapping[str, frozenset[str]] = {
    # contrib's state.sqlite (state/sqlite/metadata.yaml)
    "state.sqlite": _STATE
    | {"connectionString", "tableName", "busyTimeout", "timeout", "cleanupInterval"}
    | {"metadataTableName", "disableWAL"},
    "state.in-memory": _STATE,
    # the sidecar's own durable pub/sub
    "pubsub.sqlite": frozenset({"connectionString", "retentionPeriod"}),
    "pubsub.in-memory": frozenset(),
}

# Names daprd honours that have nothing to act on in the embedded sidecar.
ACCEPTED: Mapping[str, str] = {
    "actorStateStore": "workflows keep their state in the sidecar's own database",
    "outboxPubsub": "daprd's internal outbox topic; here the outbox is a table of the state "
    "database, written in the transaction",
    "outboxDiscardWhenMissingState": "the outbox row is committed with the state, so its "
    "state is never missing",
    "metadataTableName": "the sidecar keeps no metadata table",
    "timeout": "an operation waits for a lock at most busyTimeout",
    "cleanupInterval": "expired keys are never read, and are replaced on the next write",
}


def check(component_type: str, metadata: Mapping[str, str], source: str) -> None:
    """Refuses a name `component_type` does not take, and values the sidecar cannot honour."""
    known = KNOWN[component_type]
    for name, value in metadata.items():
        field = f"spec.metadata.{name}"
        if name not in known:
            takes = ", ".join(sorted(known)) or "no metadata"
            raise ResourceError(
                source, field, f"unknown metadata for {component_type} (it takes: {takes})"
            )
        if name in {"retentionPeriod", "busyTimeout"}:
            parse_duration(value, source, field)
        if name == "disableWAL" and value.strip().lower() in {"true", "1", "yes"}:
            raise ResourceError(source, field, "the embedded sidecar's stores always use WAL")
    if (OUTBOX_PUBSUB in metadata) != (OUTBOX_TOPIC in metadata):
        missing = OUTBOX_TOPIC if OUTBOX_PUBSUB in metadata else OUTBOX_PUBSUB
        raise ResourceError(
            source, f"spec.metadata.{missing}", "the outbox needs both its pubsub and its topic"
        )
