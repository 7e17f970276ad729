"""W3C trace context as daprd carries it through the calls it serves.

daprd reads a call's trace context from its gRPC metadata (`grpc-trace-bin`, else
`traceparent`) and, with no trace exporter configured (its standalone default), hands the
same context on unchanged: into the CloudEvent of a publish, to the app on delivery, into a
workflow's history. It starts no trace of its own for a call that carries none. A
`tracestate` sent as metadata is dropped (daprd 1.18 discards it when it reads the
`traceparent`), so only the `traceparent` travels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACE_BINARY = "grpc-trace-bin"

_W3C = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_NO_TRACE, _NO_SPAN = "0" * 32, "0" * 16


def parse_traceparent(value: str) -> str:
    """The W3C `traceparent` that `value` holds, lower-cased, or "" when it holds none
    (daprd's `SpanContextFromW3CString`: version ff and all-zero ids are refused; version
    00 has exactly four parts)."""
    match = _W3C.fullmatch(value.strip().lower())
    if match is None:
        return ""
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or trace_id == _NO_TRACE or span_id == _NO_SPAN:
        return ""
    if version == "00" and rest:
        return ""
    return f"{version}-{trace_id}-{span_id}-{flags}"


def from_binary(value: bytes) -> str:
    """The `traceparent` of OpenCensus's binary format (`grpc-trace-bin`), or ""."""
    if len(value) < 29 or value[0] != 0 or value[1] != 0 or value[18] != 1 or value[27] != 2:
        return ""
    return parse_traceparent(f"00-{value[2:18].hex()}-{value[19:27].hex()}-{value[28]:02x}")


def to_binary(traceparent: str) -> bytes:
    """`traceparent` in OpenCensus's binary format, as daprd sends it to a gRPC app."""
    _, trace_id, span_id, flags = traceparent.split("-")[:4]
    return (
        b"\x00\x00"
        + bytes.fromhex(trace_id)
        + b"\x01"
        + bytes.fromhex(span_id)
        + b"\x02"
        + bytes.fromhex(flags)
    )


def incoming(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The `traceparent` a call carries in its gRPC metadata, or "" (daprd reads
    `grpc-trace-bin` first)."""
    pairs = [(str(key).lower(), value) for key, value in metadata or ()]
    for key, value in pairs:
        if key == TRACE_BINARY and isinstance(value, bytes):
            return from_binary(value)
    for key, value in pairs:
        if key == TRACEPARENT and isinstance(value, str):
            return parse_traceparent(value)
    return ""


def is_sampled(traceparent: str) -> bool:
    """The trace's `sampled` flag is set (durabletask carries only sampled contexts)."""
    return bool(traceparent) and int(traceparent.rsplit("-", 1)[-1], 16) & 1 == 1
