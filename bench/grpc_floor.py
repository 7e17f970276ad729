"""`make bench`, the host's floor: what one no-op gRPC unary call costs here.

Every message of the pub/sub figures is two unary calls (`PublishEvent` into the sidecar,
`OnTopicEvent` out of it), and every workflow work item one completion call. This measures
the same shape with nothing behind it: a `grpc.aio` server in its own process (as the
sidecar's) answering an empty message, called back to back by the sync client the SDKs
use. Its CPU per call, on each side, is a cost no sidecar written in Python can go below,
and it varies a lot between hosts; the other figures read against it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2

from bench.workloads import cpu_seconds
from testkit.ports import free_port
from testkit.process import ManagedProcess

METHOD = "/bench.Floor/Noop"
WARMUP_CALLS = 200
CALLS = 2000

Figures = dict[str, Any]


async def _serve(port: int) -> None:
    async def noop(request: empty_pb2.Empty, context: Any) -> empty_pb2.Empty:
        return request

    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        noop,
        request_deserializer=empty_pb2.Empty.FromString,
        response_serializer=empty_pb2.Empty.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Floor", {"Noop": handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def measure(log_path: Path) -> Figures:
    """The figures; the server's output goes to `log_path`."""
    port = free_port()
    server = ManagedProcess(
        "gRPC floor server", (sys.executable, "-m", "bench.grpc_floor", str(port)), log_path
    ).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
        call = channel.unary_unary(
            METHOD,
            request_serializer=empty_pb2.Empty.SerializeToString,
            response_deserializer=empty_pb2.Empty.FromString,
        )
        for _ in range(WARMUP_CALLS):
            call(empty_pb2.Empty())
        server_before, client_before = cpu_seconds(server.pid), time.process_time()
        started = time.perf_counter()
        for _ in range(CALLS):
            call(empty_pb2.Empty())
        seconds = time.perf_counter() - started
        return {
            "calls": CALLS,
            "calls_per_s": CALLS / seconds,
            "server_cpu_ms_per_call": (cpu_seconds(server.pid) - server_before) * 1000 / CALLS,
            "client_cpu_ms_per_call": (time.process_time() - client_before) * 1000 / CALLS,
        }
    finally:
        channel.close()
        server.kill()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
