"""CloudEvents as daprd makes them: the envelope on publish, the request on delivery.

Built and parsed with the `cloudevents` SDK. On publish, data is wrapped in a CloudEvent
1.0 (`source` = app id, `type` com.dapr.event.sent, `topic`, `pubsubname`, trace
fields); data sent as `application/cloudevents+json` is kept and completed; `rawPayload`
skips the envelope, and such messages are wrapped on delivery as daprd does.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from cloudevents.conversion import to_json
from cloudevents.http import CloudEvent, from_json
from dapr.proto.runtime.v1 import appcallback_pb2
from google.protobuf import struct_pb2

EVENT_TYPE = "com.dapr.event.sent"
DEFAULT_CONTENT_TYPE = "text/plain"
CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json"
RAW_CONTENT_TYPE = "application/octet-stream"

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


# The attributes the SDK's v1 event knows by name (the rest are extensions), and those the
# fast paths below need in a stored event to read it exactly as `from_json` would.
_V1_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"}
)
_STORED_REQUIRED = frozenset({"specversion", "id", "source", "type", "time"})


class EnvelopeError(ValueError):
    """A publish whose payload claims to be a CloudEvent and is not one."""


def is_json_content_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _is_text(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in {"application/xml"} or media.endswith("+xml")


def new_traceparent() -> str:
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


def wrap(
    data: bytes,
    content_type: str,
    *,
    app_id: str,
    pubsub: str,
    topic: str,
    metadata: dict[str, str],
) -> tuple[bytes, str]:
    """The bytes stored for one published message, and their content type."""
    if metadata.get("rawPayload", "").lower() == "true":
        return data, content_type or RAW_CONTENT_TYPE
    content_type = content_type or DEFAULT_CONTENT_TYPE
    is_cloudevent = content_type.split(";", 1)[0].strip().lower() == CLOUDEVENT_CONTENT_TYPE
    if not is_cloudevent and not any(key.startswith("cloudevent.") for key in metadata):
        return _new_envelope(data, content_type, app_id=app_id, pubsub=pubsub, topic=topic)
    if is_cloudevent:
        try:
            event = from_json(data, data_unmarshaller=_keep_bytes)
        except Exception as error:  # the SDK raises several types for bad input
            raise EnvelopeError(f"data is not a valid CloudEvent: {error}") from None
    else:
        event = CloudEvent(
            {
                "id": str(uuid.uuid4()),
                "source": app_id,
                "type": EVENT_TYPE,
                "datacontenttype": content_type,
            },
            _decode_data(data, content_type),
        )
    attributes = event.get_attributes()
    overrides = {
        key.removeprefix("cloudevent."): value
        for key, value in metadata.items()
        if key.startswith("cloudevent.")
    }
    for key, value in overrides.items():
        event[key] = value
    event["topic"] = topic
    event["pubsubname"] = pubsub
    if "time" not in attributes:
        event["time"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    traceparent = attributes.get("traceparent") or new_traceparent()
    event["traceparent"] = traceparent
    event["traceid"] = attributes.get("traceid", traceparent)
    event["tracestate"] = attributes.get("tracestate", "")
    return to_json(event), CLOUDEVENT_CONTENT_TYPE


def _new_envelope(
    data: bytes, content_type: str, *, app_id: str, pubsub: str, topic: str
) -> tuple[bytes, str]:
    """What `wrap` stores for plain data without `cloudevent.*` overrides (nearly every
    publish), built directly: the same JSON, field for field, as the SDK's `CloudEvent`
    and `to_json` make, at a fraction of their cost."""
    value = _decode_data(data, content_type)
    document: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": app_id,
        "type": EVENT_TYPE,
        "datacontenttype": content_type,
        "time": datetime.now(UTC).isoformat(),
    }
    if isinstance(value, bytes):
        document["data_base64"] = base64.b64encode(value).decode("ascii")
    elif value is not None:
        document["data"] = value
    traceparent = new_traceparent()
    document["topic"] = topic
    document["pubsubname"] = pubsub
    document["traceparent"] = traceparent
    document["traceid"] = traceparent
    document["tracestate"] = ""
    return json.dumps(document).encode("utf-8"), CLOUDEVENT_CONTENT_TYPE


def _read_stored(stored: bytes) -> tuple[dict[str, Any], Any] | None:
    """A stored CloudEvent's attributes and data read with `json` alone, exactly as the
    SDK's `from_json` (with `_keep_bytes`) reads it, or None when the event is not plain
    enough to be sure (the SDK then reads it). Every stored event went through `wrap`,
    so this is the usual case, at a tenth of the SDK's cost."""
    try:
        raw = json.loads(stored)
    except ValueError:
        return None
    if (
        not isinstance(raw, dict)
        or raw.get("specversion") != "1.0"
        or not raw.keys() >= _STORED_REQUIRED
        or ("data" in raw and "data_base64" in raw)
    ):
        return None
    attributes: dict[str, Any] = {}
    data: Any = None
    for key, value in raw.items():
        if key == "data":
            data = value
        elif key == "data_base64":
            try:
                data = base64.b64decode(value)
            except (TypeError, ValueError):
                return None
        elif key != key.lower() or (value is None and key in _V1_ATTRIBUTES):
            return None
        else:
            attributes[key] = value
    if data == "" or data == b"":
        data = None
    return attributes, data


def _keep_bytes(value: str | bytes) -> Any:
    """How the SDK's `from_json` is told to read data: `data` (handed over re-serialized,
    a str) as JSON, `data_base64` (handed over decoded, bytes) as the bytes themselves.
    The SDK's default would parse decoded bytes that happen to be JSON, so binary data
    such as `"abc"` or `{"a": 1}` would not arrive byte for byte."""
    return value if isinstance(value, bytes) else json.loads(value)


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
    read = _read_stored(stored)
    if read is None:
        event = from_json(stored, data_unmarshaller=_keep_bytes)
        attributes, data = dict(event.get_attributes()), event.data
    else:
        attributes, data = read
    attributes_content_type = str(attributes.get("datacontenttype") or "")
    if isinstance(data, bytes):
        payload = data
    elif isinstance(data, str) and not is_json_content_type(attributes_content_type):
        payload = data.encode()
    elif data is None:
        payload = b""
    else:
        payload = json.dumps(data, separators=(",", ":")).encode()
    return attributes, payload


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
