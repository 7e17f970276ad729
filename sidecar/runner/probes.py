"""Readiness probes: one cheap attempt each, returning False instead of raising.

A sidecar counts as up when its gRPC API answers and its HTTP port accepts connections:
gRPC starts first inside the sidecar, and an app that calls the HTTP API straight away
must not find it closed. HTTP healthz is deliberately not required to pass: daprd keeps
it failing until the app is reachable, and the app only starts after this probe.
A daprd counts as up when `GET /v1.0/healthz/outbound` answers 2xx: its APIs and
components are ready, the app not yet needed. An app counts as up when its port accepts
connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import grpc
from google.protobuf import empty_pb2

from sidecar.workflow.protos import pb_grpc

Probe = Callable[[], Awaitable[bool]]
_NOT_LISTENING = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


async def grpc_hello(host: str, port: int, token: str | None = None) -> bool:
    """Any answer counts, even a refusal (say, of a missing API token): the server is up."""
    metadata = (("dapr-api-token", token),) if token else None
    try:
        async with grpc.aio.insecure_channel(f"{host}:{port}") as channel:
            stub = pb_grpc.TaskHubSidecarServiceStub(channel)
            await stub.Hello(empty_pb2.Empty(), timeout=1, metadata=metadata)
    except grpc.aio.AioRpcError as error:
        return error.code() not in _NOT_LISTENING
    return True


async def tcp_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=1)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def sidecar_up(host: str, grpc_port: int, http_port: int, token: str | None = None) -> Probe:
    async def probe() -> bool:
        return await grpc_hello(host, grpc_port, token) and await tcp_open(host, http_port)

    return probe


async def http_ok(host: str, port: int, path: str) -> bool:
    """A 2xx answer to `GET path` (HTTP/1.0: the server closes after answering)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=1)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        status_line = await asyncio.wait_for(reader.readline(), timeout=1)
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = status_line.split()
    return len(parts) >= 2 and parts[1][:1] == b"2"


def daprd_up(host: str, http_port: int, path: str) -> Probe:
    async def probe() -> bool:
        return await http_ok(host, http_port, path)

    return probe


def port_open(host: str, port: int) -> Probe:
    async def probe() -> bool:
        return await tcp_open(host, port)

    return probe
