"""Assembles the sidecar: the gRPC server with its services, and the small HTTP endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import grpc
from aiohttp import web

from sidecar.config import SidecarConfig
from sidecar.workflow.engine import EngineSettings, WorkflowEngine
from sidecar.workflow.protos import pb_grpc
from sidecar.workflow.servicer import TaskHubServicer
from sidecar.workflow.store import WorkflowStore

log = logging.getLogger("sidecar")

# Room above --max-body-size so that an oversized request reaches the handlers, which
# refuse it with a message naming the limit instead of gRPC's bare transport error.
_TRANSPORT_SLACK = 1024 * 1024


class Sidecar:
    def __init__(self, config: SidecarConfig) -> None:
        self.config = config
        self.store = WorkflowStore(config.database, config.sqlite_synchronous)
        self.engine = WorkflowEngine(
            self.store,
            EngineSettings(
                lease_seconds=config.lease_seconds, max_payload_bytes=config.max_body_bytes
            ),
            app_id=config.app_id,
        )
        limit = config.max_body_bytes + _TRANSPORT_SLACK
        self.grpc_server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.so_reuseport", 0),
            ]
        )
        pb_grpc.add_TaskHubSidecarServiceServicer_to_server(
            TaskHubServicer(self.engine), self.grpc_server
        )
        self._http_runner: web.AppRunner | None = None
        self.stopped = asyncio.Event()

    async def start(self) -> None:
        address = f"{self.config.listen_address}:{self.config.grpc_port}"
        if self.grpc_server.add_insecure_port(address) == 0:
            raise OSError(f"cannot listen on {address}")
        await self.engine.start()
        await self.grpc_server.start()
        self._http_runner = web.AppRunner(self._http_app(), access_log=None)
        await self._http_runner.setup()
        site = web.TCPSite(self._http_runner, self.config.listen_address, self.config.http_port)
        await site.start()
        log.info(
            "sidecar ready",
            extra={
                "app_id": self.config.app_id,
                "grpc_port": self.config.grpc_port,
                "http_port": self.config.http_port,
                "database": str(self.config.database),
            },
        )

    async def stop(self) -> None:
        await self.engine.stop()
        await self.grpc_server.stop(grace=2)
        if self._http_runner is not None:
            await self._http_runner.cleanup()
        self.store.close()
        self.stopped.set()

    def _http_app(self) -> web.Application:
        app = web.Application()

        async def healthz(_: web.Request) -> web.Response:
            return web.Response(status=204)

        async def metadata(_: web.Request) -> web.Response:
            return web.json_response(
                {
                    "id": self.config.app_id,
                    "runtimeVersion": "embedded",
                    "extended": {"workflow": self.engine.stats()},
                }
            )

        app.router.add_get("/v1.0/healthz", healthz)
        app.router.add_get("/v1.0/healthz/outbound", healthz)
        app.router.add_get("/v1.0/metadata", metadata)
        return app


async def serve(config: SidecarConfig) -> None:
    sidecar = Sidecar(config)
    await sidecar.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("sidecar stopping")
    await sidecar.stop()
