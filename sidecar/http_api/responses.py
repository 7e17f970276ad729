"""daprd's HTTP answers: `{"errorCode": "ERR_...", "message": ...}` with the status daprd
gives each error code, and JSON bodies as daprd writes them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sidecar.http_api.calls import Refused
from sidecar.invocation.messages import http_status_of

JSON = "application/json"

# The HTTP status daprd answers each error code with (pkg/api/errors, pkg/messages); an
# error code not listed gets the status of its gRPC code.
STATUS_OF_ERROR = {
    "ERR_PUBSUB_NOT_FOUND": 404,
    "ERR_PUBSUB_EMPTY": 404,
    "ERR_TOPIC_NAME_EMPTY": 404,
    "ERR_PUBSUB_NOT_CONFIGURED": 400,
    "ERR_PUBSUB_CLOUD_EVENTS_SER": 500,
    "ERR_PUBSUB_EVENTS_SER": 400,
    "ERR_PUBSUB_PUBLISH_MESSAGE": 500,
    "ERR_STATE_STORE_NOT_FOUND": 400,
    "ERR_STATE_STORE_NOT_CONFIGURED": 500,
    "ERR_MALFORMED_REQUEST": 400,
    "ERR_NOT_SUPPORTED_STATE_OPERATION": 400,
    "ERR_STATE_SAVE": 409,  # the servicer refuses a save only on an ETag mismatch
    "ERR_STATE_DELETE": 409,
    "ERR_STATE_TRANSACTION": 500,
    "ERR_STORAGE_FULL": 507,  # the sidecar's own: a SQLite file's disk is full
}


class BadBody(ValueError):
    """A request body daprd would refuse; the message says why."""


def json_list(raw: bytes, what: str) -> list[Any]:
    """The body as a JSON list of `what`."""
    try:
        items = json.loads(raw)
    except ValueError as bad:
        raise BadBody(str(bad)) from None
    if not isinstance(items, list):
        raise BadBody(f"the body must be a list of {what}")
    return items


def error(status: int, code: str, message: str) -> web.Response:
    body = _go_json({"errorCode": code, "message": message})
    return web.Response(status=status, body=body, content_type=JSON)


def refused(refusal: Refused, code: str = "", status: int = 0) -> web.Response:
    """A servicer's refusal as daprd answers it over HTTP; `code` and `status` replace the
    refusal's own when daprd's HTTP API reports the operation under another code."""
    reason = code or refusal.reason or "ERR_INTERNAL"
    status = status or STATUS_OF_ERROR.get(reason) or http_status_of(refusal.code.value[0])
    return error(status, reason, refusal.message)


def malformed(detail: object) -> web.Response:
    return error(400, "ERR_MALFORMED_REQUEST", f"failed deserializing HTTP body: {detail}")


def json_body(document: Any, status: int = 200) -> web.Response:
    """A JSON answer as Go's encoder writes it (a trailing newline)."""
    return web.Response(status=status, body=_go_json(document) + b"\n", content_type=JSON)


def _go_json(document: Any) -> bytes:
    """Compact, with `<`, `>` and `&` escaped as Go's encoder escapes them (they can only
    occur inside strings)."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.encode()


def empty() -> web.Response:
    return web.Response(status=204)


def metadata_of(request: web.Request) -> dict[str, str]:
    """daprd's `metadata.<name>=<value>` query parameters (the first value of each)."""
    found: dict[str, str] = {}
    for key, value in request.query.items():
        if key.startswith("metadata.") and key[len("metadata.") :] not in found:
            found[key[len("metadata.") :]] = value
    return found


def trace_metadata(request: web.Request) -> list[tuple[str, str]]:
    """The W3C trace headers of a request, as the gRPC metadata a servicer reads."""
    return [
        (name, request.headers[name])
        for name in ("traceparent", "tracestate")
        if name in request.headers
    ]
