"""`/v1.0/publish/<pubsub>/<topic>` and its bulk form (daprd's `onPublish`, `onBulkPublish`).

The body is the data, its `Content-Type` the data's content type; `metadata.<name>` query
parameters are the publish metadata. A bulk request is a JSON list of entries (`entryId`,
`event`, `contentType`, `metadata`): each event becomes bytes as daprd's
`ConvertEventToBytes` makes them (JSON re-encoded, text as is, binary from base64).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web
from dapr.proto.runtime.v1 import pubsub_pb2

from sidecar.http_api import gojson
from sidecar.http_api.backends import DAPR, Backends
from sidecar.http_api.calls import Refused
from sidecar.http_api.responses import (
    BadBody,
    empty,
    error,
    json_body,
    json_list,
    metadata_of,
    refused,
    trace_metadata,
)
from sidecar.pubsub.envelope import CLOUDEVENT_CONTENT_TYPE, is_json_content_type


def routes(api: Backends) -> list[web.RouteDef]:
    async def publish(request: web.Request) -> web.Response:
        message = pubsub_pb2.PublishEventRequest(
            pubsub_name=request.match_info["pubsub"],
            topic=request.match_info["topic"],
            data=await request.read(),
            data_content_type=request.headers.get("Content-Type", ""),
            metadata=metadata_of(request),
        )
        try:
            await api.call(
                api.runtime.PublishEvent, message, DAPR + "PublishEvent", trace_metadata(request)
            )
        except Refused as refusal:
            return refused(refusal)
        return empty()

    async def publish_bulk(request: web.Request) -> web.Response:
        pubsub, topic = request.match_info["pubsub"], request.match_info["topic"]
        try:
            entries = _entries(await request.read())
        except BadBody as bad:
            return error(
                400,
                "ERR_PUBSUB_EVENTS_SER",
                f"error when marshalling events for topic {topic} pubsub {pubsub}: {bad}",
            )
        message = pubsub_pb2.BulkPublishRequest(
            pubsub_name=pubsub, topic=topic, entries=entries, metadata=metadata_of(request)
        )
        try:
            answer = await api.call(
                api.runtime.BulkPublishEvent,
                message,
                DAPR + "BulkPublishEvent",
                trace_metadata(request),
            )
        except Refused as refusal:
            return refused(refusal)
        if not answer.failedEntries:
            return empty()
        failed = [
            {"entryId": entry.entry_id, **({"error": entry.error} if entry.error else {})}
            for entry in answer.failedEntries
        ]
        return json_body({"failedEntries": failed, "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE"}, 500)

    topic = "{topic:.+}"
    return [
        web.post(f"/v1.0/publish/bulk/{{pubsub}}/{topic}", publish_bulk),
        web.put(f"/v1.0/publish/bulk/{{pubsub}}/{topic}", publish_bulk),
        web.post(f"/v1.0-alpha1/publish/bulk/{{pubsub}}/{topic}", publish_bulk),
        web.put(f"/v1.0-alpha1/publish/bulk/{{pubsub}}/{topic}", publish_bulk),
        web.post(f"/v1.0/publish/{{pubsub}}/{topic}", publish),
        web.put(f"/v1.0/publish/{{pubsub}}/{topic}", publish),
    ]


def _entries(raw: bytes) -> list[pubsub_pb2.BulkPublishRequestEntry]:
    entries, seen = [], set()
    for item in json_list(raw, "entries"):
        entry_id = str(item.get("entryId") or "") if isinstance(item, dict) else ""
        if not entry_id or entry_id in seen:
            raise BadBody("entryId is duplicated or not present for entry")
        seen.add(entry_id)
        content_type = str(item.get("contentType") or "")
        entries.append(
            pubsub_pb2.BulkPublishRequestEntry(
                entry_id=entry_id,
                event=event_bytes(item.get("event"), content_type),
                content_type=content_type,
                metadata={str(k): str(v) for k, v in (item.get("metadata") or {}).items()},
            )
        )
    return entries


def event_bytes(event: Any, content_type: str) -> bytes:
    """daprd's `ConvertEventToBytes`: binary content types from base64, text as is, JSON
    and CloudEvents re-encoded; a value that does not fit its content type is refused."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in {"application/octet-stream"} or media.startswith(("image/", "audio/", "video/")):
        if not isinstance(event, str):
            raise BadBody("mismatch between contentType and event")
        try:
            return base64.b64decode(event, validate=True)
        except binascii.Error as bad:
            raise BadBody(
                f"unable to decode base64 application/octect-stream data: {bad}"
            ) from None
    if media.startswith("text/") or media in {"application/xml"} or media.endswith("+xml"):
        if not isinstance(event, str):
            raise BadBody("mismatch between contentType and event")
        return event.encode()
    if is_json_content_type(media) or media == CLOUDEVENT_CONTENT_TYPE:
        return gojson.dumps(event)
    raise BadBody("mismatch between contentType and event")
