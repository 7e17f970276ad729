"""One invocation and its reply as they travel between sidecars and apps, and daprd's rules
for turning their metadata into HTTP headers or gRPC metadata.

daprd carries an invocation as an `InternalInvokeRequest`: the method, an HTTP verb and
query string, the data with its content type, and the caller's headers or gRPC metadata
as they came. The reply is an HTTP status (an HTTP app answered) or a gRPC status (a gRPC
app did), with headers, trailers and data. The conversions follow daprd's
`pkg/messaging/v1/util.go`, so an app sees the same headers under either runtime.
"""

from __future__ import annotations

import base64
import http
import json
from dataclasses import dataclass, field
from typing import Any

import grpc

Pairs = list[tuple[str, str]]

# Headers an HTTP caller's value reaches a gRPC app under `dapr-<name>` (daprd's
# `isPermanentHTTPHeader`): gRPC would refuse or misread them under their own name.
_PERMANENT = frozenset(
    {
        "Accept",
        "Accept-Charset",
        "Accept-Language",
        "Accept-Ranges",
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "Transfer-Encoding",
        "Upgrade",
        "Cache-Control",
        "Content-Type",
        "Content-Length",
        "Cookie",
        "Date",
        "Expect",
        "From",
        "Host",
        "If-Match",
        "If-Modified-Since",
        "If-None-Match",
        "If-Schedule-Tag-Match",
        "If-Unmodified-Since",
        "Max-Forwards",
        "Origin",
        "Pragma",
        "Referer",
        "Via",
        "Warning",
    }
)
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "http2-settings",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-authenticate",
    }
)
_TRACE = frozenset({"traceparent", "tracestate", "grpc-trace-bin"})
DESTINATION = "destination-app-id"
CALLER_APP = "dapr-caller-app-id"
CALLER_NAMESPACE = "dapr-caller-namespace"
CALLEE_APP = "dapr-callee-app-id"
HTTP_STATUS = "dapr-http-status"


@dataclass
class Invocation:
    """daprd's `InternalInvokeRequest`: `metadata` holds the caller's headers (HTTP) or
    metadata (gRPC) with their names as received."""

    method: str
    verb: str = "POST"
    query: str = ""
    data: bytes = b""
    content_type: str = ""
    type_url: str = ""
    metadata: Pairs = field(default_factory=list)

    def to_json(self) -> bytes:
        return _dumps(self.__dict__)

    @classmethod
    def from_json(cls, raw: bytes) -> Invocation:
        return cls(**_loads(raw))


@dataclass
class Reply:
    """daprd's `InternalInvokeResponse`: an HTTP app's status (`http_status`), or a gRPC
    app's code, message and details (`grpc_code`, serialized `google.rpc.Status` details)."""

    http_status: int | None = None
    grpc_code: int = 0
    message: str = ""
    details: list[str] = field(default_factory=list)  # base64 of each packed Any
    headers: Pairs = field(default_factory=list)
    trailers: Pairs = field(default_factory=list)
    content_type: str = ""
    data: bytes = b""
    type_url: str = ""

    @property
    def is_http(self) -> bool:
        return self.http_status is not None

    def to_json(self) -> bytes:
        return _dumps(self.__dict__)

    @classmethod
    def from_json(cls, raw: bytes) -> Reply:
        return cls(**_loads(raw))


_PAIRS = ("metadata", "headers", "trailers")


def _dumps(fields: dict[str, Any]) -> bytes:
    """An invocation or reply as sidecars send it to each other: JSON, data in base64."""
    return json.dumps({**fields, "data": base64.b64encode(fields["data"]).decode()}).encode()


def _loads(raw: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(raw)
    document["data"] = base64.b64decode(document["data"])
    for name in _PAIRS:
        if name in document:
            document[name] = [tuple(pair) for pair in document[name]]
    return document


class InvocationError(Exception):
    """The invocation reached no app (unknown app id, app down, no app channel): daprd's
    ERR_DIRECT_INVOKE. `code` is the gRPC code daprd answers a gRPC caller with."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.INTERNAL) -> None:
        super().__init__(message)
        self.code = code


def canonical(name: str) -> str:
    """Go's canonical header name (`content-type` -> `Content-Type`), which daprd's rules
    compare against."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def to_grpc_metadata(metadata: Pairs, http_conversion: bool) -> Pairs:
    """daprd's `InternalMetadataToGrpcMetadata`: lower-case names; with `http_conversion`
    (the metadata came from HTTP), HTTP's own headers renamed `dapr-<name>`; trace context
    and binary values are left to the transport."""
    converted: Pairs = []
    for name, value in metadata:
        key = name.lower()
        if key in _TRACE or key == DESTINATION or key.endswith("-bin") or key.startswith(":"):
            continue
        if http_conversion and canonical(name) in _PERMANENT:
            key = "dapr-" + key
        converted.append((key, value))
    converted += trace_headers(metadata)
    return converted


def to_http_headers(metadata: Pairs) -> Pairs:
    """daprd's `InternalMetadataToHTTPHeader`: Go's canonical names, without content type
    and length (set from the message), hop-by-hop headers (also those `Connection` names)
    and binary values; gRPC's reserved names become `Dapr-<Name>`."""
    nominated = {
        token.strip().lower()
        for name, value in metadata
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    }
    headers: Pairs = []
    for name, value in metadata:
        key = name.lower()
        if key in _TRACE or key == DESTINATION or key.endswith("-bin"):
            continue
        if key in {"content-type", "content-length"} or key in HOP_BY_HOP or key in nominated:
            continue
        if key in {":method", ":scheme", ":path", ":authority"}:
            key = "dapr-" + key[1:]
        elif key.startswith("grpc-"):
            key = "dapr-" + key
        headers.append((canonical(key), value))
    return headers + [(canonical(name), value) for name, value in trace_headers(metadata)]


def trace_headers(metadata: Pairs) -> Pairs:
    """The caller's W3C trace context, passed on as it came."""
    found = {name.lower(): value for name, value in metadata if name.lower() in _TRACE}
    if "traceparent" not in found:
        return []
    pairs = [("traceparent", found["traceparent"])]
    if found.get("tracestate"):
        pairs.append(("tracestate", found["tracestate"]))
    return pairs


def go_status(code_name: str, message: str) -> str:
    """A gRPC error as Go prints it (`rpc error: code = InvalidArgument desc = ...`), the
    way daprd's messages quote errors."""
    go_name = "Canceled" if code_name == "CANCELLED" else code_name.title().replace("_", "")
    return f"rpc error: code = {go_name} desc = {message}"


def http_status_of(code: int) -> int:
    """daprd's `HTTPStatusFromCode`: the HTTP status a gRPC code becomes."""
    return _HTTP_OF_GRPC.get(code, 500)


def grpc_code_of(status: int) -> grpc.StatusCode:
    """daprd's `CodeFromHTTPStatus`: the gRPC code an HTTP status becomes."""
    if 200 <= status < 300:
        return grpc.StatusCode.OK
    return _GRPC_OF_HTTP.get(status, grpc.StatusCode.UNKNOWN)


# Go's `http.StatusText` where it words a status unlike Python's `HTTPStatus`.
_GO_STATUS_TEXT = {418: "I'm a teapot", 413: "Request Entity Too Large"}


def status_text(status: int) -> str:
    """Go's reason phrase of an HTTP status, which daprd puts in its errors."""
    if status in _GO_STATUS_TEXT:
        return _GO_STATUS_TEXT[status]
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


_C = grpc.StatusCode
_HTTP_OF_GRPC = {
    code.value[0]: status
    for code, status in (
        (_C.OK, 200),
        (_C.CANCELLED, 408),
        (_C.UNKNOWN, 500),
        (_C.INVALID_ARGUMENT, 400),
        (_C.DEADLINE_EXCEEDED, 504),
        (_C.NOT_FOUND, 404),
        (_C.ALREADY_EXISTS, 409),
        (_C.PERMISSION_DENIED, 403),
        (_C.UNAUTHENTICATED, 401),
        (_C.RESOURCE_EXHAUSTED, 429),
        (_C.FAILED_PRECONDITION, 400),
        (_C.ABORTED, 409),
        (_C.OUT_OF_RANGE, 400),
        (_C.UNIMPLEMENTED, 501),
        (_C.INTERNAL, 500),
        (_C.UNAVAILABLE, 503),
        (_C.DATA_LOSS, 500),
    )
}
_GRPC_OF_HTTP = {
    408: _C.CANCELLED,
    500: _C.UNKNOWN,
    400: _C.INTERNAL,
    504: _C.DEADLINE_EXCEEDED,
    404: _C.NOT_FOUND,
    409: _C.ALREADY_EXISTS,
    403: _C.PERMISSION_DENIED,
    401: _C.UNAUTHENTICATED,
    429: _C.RESOURCE_EXHAUSTED,
    501: _C.UNIMPLEMENTED,
    503: _C.UNAVAILABLE,
}
