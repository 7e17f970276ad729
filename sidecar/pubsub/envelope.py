"""CloudEvents as daprd makes them: the envelope on publish, the request on delivery.

On publish, plain data is wrapped in a CloudEvent 1.0 (`source` = app id, `type`
com.dapr.event.sent, `topic`, `pubsubname`, the call's trace context); data sent as
`application/cloudevents+json` (any JSON object) is kept and completed as daprd's
`FromCloudEvent` does; `rawPayload` skips the envelope, and such messages are wrapped on
delivery. `ttlInSeconds` adds daprd's `expiration` attribute.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from dapr.proto.runtime.v1 import appcallback_pb2
from google.protobuf import struct_pb2

EVENT_TYPE = "com.dapr.event.sent"
DEFAULT_SOURCE = "Dapr"  # contrib's source for an event with none
DEFAULT_CONTENT_TYPE = "text/plain"
CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json"
RAW_CONTENT_TYPE = "application/octet-stream"
TTL = "ttlInSeconds"
EXPIRATION = "expiration"

# daprd's `cloudEventDuplicateKeys`: attributes carried by their own request fields.
_ENVELOPE_ATTRIBUTES = {
    "id",
    "source",
    "type",
    "specversion",
    "datacontenttype",
    "data",
    "data_base64",
}
# The attributes `cloudevent.<name>` publish metadata may set (daprd's `CloudEvent`
# request, names matched case-insensitively); others are not applied by daprd either.
_OVERRIDABLE = frozenset(
    {"id", "source", "type", "subject", "traceid", "traceparent", "tracestate"}
)


class EnvelopeError(ValueError):
    """A publish whose payload claims to be a CloudEvent and is not one, or whose
    `ttlInSeconds` is not a number of seconds."""


def is_json_content_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _is_text(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in {"application/xml"} or media.endswith("+xml")


def rfc3339(moment: datetime) -> str:
    """A time as daprd writes CloudEvent times: RFC 3339, whole seconds, UTC."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def ttl_seconds(metadata: Mapping[str, str]) -> int | None:
    """The message's `ttlInSeconds`, None without one; refused unless a whole number."""
    value = metadata.get(TTL)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise EnvelopeError(f"{TTL} must be a whole number of seconds, got '{value}'") from None


def wrap(
    data: bytes,
    content_type: str,
    *,
    app_id: str,
    pubsub: str,
    topic: str,
    metadata: Mapping[str, str],
    traceparent: str = "",
) -> tuple[bytes, str]:
    """The bytes stored for one published message, and their content type. `traceparent`
    is the publish call's trace context ("" for none: daprd starts none)."""
    if metadata.get("rawPayload", "").lower() == "true":
        return data, content_type or RAW_CONTENT_TYPE
    content_type = content_type or DEFAULT_CONTENT_TYPE
    if content_type.split(";", 1)[0].strip().lower() == CLOUDEVENT_CONTENT_TYPE:
        event = _completed(data, topic=topic, pubsub=pubsub, traceparent=traceparent)
    else:
        event = _new_event(data, content_type, app_id, metadata, traceparent)
        event["topic"] = topic
        event["pubsubname"] = pubsub
    ttl = ttl_seconds(metadata)
    if ttl is not None:
        event[EXPIRATION] = rfc3339(datetime.now(UTC) + timedelta(seconds=ttl))
    return json.dumps(event).encode("utf-8"), CLOUDEVENT_CONTENT_TYPE


def _new_event(
    data: bytes, content_type: str, app_id: str, metadata: Mapping[str, str], traceparent: str
) -> dict[str, Any]:
    """daprd's `NewCloudEventsEnvelope`, with the `cloudevent.*` overrides applied."""
    overrides = {
        key.lower().removeprefix("cloudevent."): value
        for key, value in metadata.items()
        if key.lower().startswith("cloudevent.")
        and key.lower().removeprefix("cloudevent.") in _OVERRIDABLE
    }
    trace = overrides.get("traceparent") or overrides.get("traceid") or traceparent
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": overrides.get("id") or str(uuid.uuid4()),
        "source": overrides.get("source") or app_id or DEFAULT_SOURCE,
        "type": overrides.get("type") or EVENT_TYPE,
        "datacontenttype": content_type,
        "time": rfc3339(datetime.now(UTC)),
        "traceid": trace,
        "traceparent": trace,
        "tracestate": overrides.get("tracestate", ""),
    }
    if overrides.get("subject"):
        event["subject"] = overrides["subject"]
    value = _decode_data(data, content_type)
    if isinstance(value, bytes):
        event["data_base64"] = base64.b64encode(value).decode("ascii")
    elif value is not None:
        event["data"] = value
    return event


def _completed(data: bytes, *, topic: str, pubsub: str, traceparent: str) -> dict[str, Any]:
    """daprd's `FromCloudEvent`: any JSON object, completed (time, trace fields when it has
    no `traceid`, defaults for source, type and specversion) and put on this topic."""
    try:
        event = json.loads(data)
    except ValueError as error:
        raise EnvelopeError(f"data is not a valid CloudEvent: {error}") from None
    if not isinstance(event, dict):
        raise EnvelopeError("data is not a valid CloudEvent: not a JSON object")
    event.setdefault("time", rfc3339(datetime.now(UTC)))
    if "traceid" not in event:
        event["traceid"] = event["traceparent"] = traceparent
    event.setdefault("tracestate", "")
    event["topic"] = topic
    event["pubsubname"] = pubsub
    for key, default in (("source", DEFAULT_SOURCE), ("type", EVENT_TYPE), ("specversion", "1.0")):
        if event.get(key) is None:
            event[key] = default
    return event


def _decode_data(data: bytes, content_type: str) -> Any:
    if is_json_content_type(content_type):
        try:
            return json.loads(data)
        except ValueError:
            return data.decode("utf-8", errors="replace")
    if _is_text(content_type):
        return data.decode("utf-8", errors="replace")
    return data


def unwrap(
    stored: bytes, content_type: str, *, pubsub: str, topic: str
) -> tuple[dict[str, Any], bytes]:
    """A stored message as (CloudEvent attributes, data bytes) for delivery and routing."""
    if content_type != CLOUDEVENT_CONTENT_TYPE:
        attributes: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "source": "",
            "type": EVENT_TYPE,
            "specversion": "1.0",
            "datacontenttype": content_type,
            "topic": topic,
            "pubsubname": pubsub,
        }
        return attributes, stored
    attributes = json.loads(stored)
    data = attributes.pop("data", None)
    encoded = attributes.pop("data_base64", None)
    if isinstance(encoded, str):
        data = base64.b64decode(encoded)
    attributes_content_type = str(attributes.get("datacontenttype") or "")
    if isinstance(data, bytes):
        payload = data
    elif isinstance(data, str) and not is_json_content_type(attributes_content_type):
        payload = data.encode()
    elif data is None or data == "":
        payload = b""
    else:
        payload = json.dumps(data, separators=(",", ":")).encode()
    return attributes, payload


def expired(attributes: Mapping[str, Any]) -> bool:
    """The event's `expiration` has passed (daprd's `HasExpired`; unreadable: not)."""
    value = attributes.get(EXPIRATION)
    if not isinstance(value, str) or not value:
        return False
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        return False
    return moment < datetime.now(UTC)


def routing_view(attributes: dict[str, Any], payload: bytes) -> dict[str, Any]:
    """The `event` variable that routing rules (CEL) see: attributes plus parsed data."""
    view = dict(attributes)
    content_type = str(attributes.get("datacontenttype") or "")
    if is_json_content_type(content_type):
        try:
            view["data"] = json.loads(payload) if payload else None
        except ValueError:
            view["data"] = payload.decode("utf-8", errors="replace")
    else:
        view["data"] = payload.decode("utf-8", errors="replace")
    return view


def topic_event_request(
    attributes: dict[str, Any], payload: bytes, path: str, *, topic: str, pubsub: str
) -> appcallback_pb2.TopicEventRequest:
    """The `OnTopicEvent` request for a message received on `topic` of `pubsub`.

    As daprd: `topic` and `pubsub_name` say where the message was received (for a message
    moved to a dead-letter topic, that topic, while its CloudEvent `topic` attribute still
    names the original one); every attribute but the envelope fields travels in
    `extensions`, `topic` and `pubsubname` included.
    """
    extensions = struct_pb2.Struct()
    extensions.update(
        {key: value for key, value in attributes.items() if key not in _ENVELOPE_ATTRIBUTES}
    )
    return appcallback_pb2.TopicEventRequest(
        id=str(attributes.get("id", "")),
        source=str(attributes.get("source", "")),
        type=str(attributes.get("type", "")),
        spec_version=str(attributes.get("specversion", "1.0")),
        data_content_type=str(attributes.get("datacontenttype", "")),
        data=payload,
        topic=topic,
        pubsub_name=pubsub,
        path=path,
        extensions=extensions,
    )
