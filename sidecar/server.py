"""Assembles the sidecar: resources, the gRPC server with its services, the HTTP endpoint,
and the connection to the app's callback server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import grpc
from aiohttp import web
from dapr.proto.runtime.v1 import metadata_pb2
from google.protobuf import json_format

from sidecar.appchannel.grpc import GrpcAppChannel
from sidecar.appchannel.http import HttpAppChannel
from sidecar.config import SidecarConfig
from sidecar.dapr_api.auth import ApiTokenInterceptor
from sidecar.dapr_api.servicer import DaprRuntimeServicer, runtime_api_handler
from sidecar.http_api.app import application
from sidecar.http_api.backends import Backends
from sidecar.http_api.calls import Caller
from sidecar.invocation.grpc_api import InvokeServiceHandler
from sidecar.invocation.router import CallLocalService, Invoker
from sidecar.metrics import IngressMetricsInterceptor, ServerMetricsInterceptor, SidecarMetrics
from sidecar.pubsub.service import PubSubService
from sidecar.resources.loader import load_resources
from sidecar.state.service import StateService
from sidecar.workflow.engine import EngineSettings, WorkflowEngine
from sidecar.workflow.internal import InternalEndpoint
from sidecar.workflow.peers import Peers
from sidecar.workflow.protos import pb_grpc
from sidecar.workflow.servicer import TaskHubServicer
from sidecar.workflow.store import WorkflowStore

log = logging.getLogger("sidecar")

RUNTIME_VERSION = "embedded-0.1.0"
# Room above --max-body-size so that an oversized request reaches the handlers, which
# refuse it with a message naming the limit instead of gRPC's bare transport error.
_TRANSPORT_SLACK = 64 * 1024 * 1024


def limit_of(config: SidecarConfig) -> int:
    """The largest request the APIs accept."""
    return config.max_body_bytes + _TRANSPORT_SLACK


class Sidecar:
    def __init__(self, config: SidecarConfig) -> None:
        self.config = config
        self.api_token = config.api_token
        self.app_token = config.app_token
        self.resources = load_resources(config.resources_paths, config.app_id)
        cap = config.sqlite_max_bytes
        self.store = WorkflowStore(config.database, config.sqlite_synchronous, cap)
        peers = Peers(config.data_dir, config.app_id, cap)
        self.engine = WorkflowEngine(
            self.store,
            EngineSettings(
                lease_seconds=config.lease_seconds, max_payload_bytes=config.max_body_bytes
            ),
            app_id=config.app_id,
            peers=peers,
        )
        self.state = StateService(self.resources, config.app_id, config.data_dir, cap)
        self.pubsub = PubSubService(
            self.resources,
            config.app_id,
            owner=f"{config.app_id}@{config.listen_address}:{config.grpc_port}",
            data_dir=config.data_dir,
            synchronous=config.sqlite_synchronous,
            max_bytes=cap,
        )
        self.stopped = asyncio.Event()
        self.stop_requested = asyncio.Event()
        self.metrics = (
            SidecarMetrics(config.app_id, config.namespace) if config.enable_metrics else None
        )
        # The token check first: a refused call reaches no API, so daprd counts nothing.
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if self.api_token:
            interceptors.append(ApiTokenInterceptor(self.api_token))
        if self.metrics is not None:
            interceptors.append(ServerMetricsInterceptor(self.metrics))
        limit = limit_of(config)
        options = [
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
        ]
        self.grpc_server = grpc.aio.server(interceptors=interceptors, options=options)
        workflows = TaskHubServicer(self.engine)
        pb_grpc.add_TaskHubSidecarServiceServicer_to_server(workflows, self.grpc_server)
        # Where other apps' sidecars reach this one (cross-app workflows).
        self.internal = InternalEndpoint(
            workflows,
            self.engine.inbound,
            peers,
            config.listen_address,
            config.internal_grpc_port,
            options,
        )
        runtime = DaprRuntimeServicer(
            config.app_id, self.pubsub, self.state, self.metadata, self.stop_requested.set
        )
        # Service invocation: its own handler for InvokeService, ahead of the runtime API's.
        self.invoker = Invoker(config.app_id, config.namespace, peers)
        self.internal.add_generic_rpc_handlers(CallLocalService(self.invoker).handler())
        self.grpc_server.add_generic_rpc_handlers(
            (InvokeServiceHandler(self.invoker).handler(), runtime_api_handler(runtime))
        )
        self.http_api = Backends(
            config.app_id,
            self.api_token,
            runtime,
            workflows,
            self.invoker,
            lambda: http_metadata(self.metadata()),
            Caller(self.metrics),
        )
        self._http_runner: web.AppRunner | None = None
        self._metrics_runner: web.AppRunner | None = None
        self._app_channel: GrpcAppChannel | HttpAppChannel | None = None
        self._app_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        address = f"{self.config.listen_address}:{self.config.grpc_port}"
        if self.grpc_server.add_insecure_port(address) == 0:
            raise OSError(f"cannot listen on {address}")
        await self.engine.start()
        await self.pubsub.start()
        self.state.start_outbox(
            lambda message: self.pubsub.publish_cloudevent(
                message.pubsub, message.topic, message.body
            )
        )
        await self.grpc_server.start()
        await self.internal.start()
        # Before the HTTP API: a sidecar whose health endpoint answers has every listener.
        await self._serve_metrics()
        self._http_runner = web.AppRunner(
            application(self.http_api, limit_of(self.config)), access_log=None
        )
        await self._http_runner.setup()
        site = web.TCPSite(self._http_runner, self.config.listen_address, self.config.http_port)
        await site.start()
        if self.config.app_port is not None:
            self._app_channel = self.invoker.app = self._open_app_channel(self.config.app_port)
            self._app_task = asyncio.create_task(self._connect_app(), name="app-connection")
        log.info(
            "sidecar ready",
            extra={
                "grpc_port": self.config.grpc_port,
                "http_port": self.config.http_port,
                "database": str(self.config.database),
                "components": [c.name for c in self.resources.components],
            },
        )

    async def stop(self) -> None:
        if self._app_task is not None:
            self._app_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._app_task
        await self.state.stop()
        await self.pubsub.stop()
        await self.internal.stop()
        await self.engine.stop()
        await self.grpc_server.stop(grace=2)
        if self._app_channel is not None:
            await self._app_channel.close()
        if self._http_runner is not None:
            await self._http_runner.cleanup()
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
        self.state.close()
        self.store.close()
        self.stopped.set()

    def _open_app_channel(self, port: int) -> GrpcAppChannel | HttpAppChannel:
        """The channel to the app on `--app-port`, of `--app-protocol`."""
        if self.config.app_protocol == "http":
            return HttpAppChannel(port, self.config.app_id, self.app_token, self.metrics)
        interceptors = [IngressMetricsInterceptor(self.metrics)] if self.metrics else None
        return GrpcAppChannel(port, self.app_token, interceptors)

    async def _connect_app(self) -> None:
        """Asks the app for its subscriptions, waiting for it to come up, then delivers."""
        assert self._app_channel is not None
        subscriptions = await self._app_channel.subscriptions()
        log.info("app connected", extra={"app_port": self.config.app_port})
        await self.pubsub.start_delivery(self._app_channel.delivery, self.app_token, subscriptions)

    async def _serve_metrics(self) -> None:
        """daprd's metrics server on `--metrics-port`. daprd's default port already taken
        (another sidecar on this machine got it first) is a warning, not a failure: name a
        port per sidecar with `--metrics-port`, as the Dapr CLI does."""
        if self.metrics is None:
            return
        address = self.config.metrics_listen_address or self.config.listen_address
        runner = web.AppRunner(self.metrics.http_app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, address, self.config.metrics_port).start()
        except OSError as error:
            await runner.cleanup()
            if self.config.metrics_port_given:
                raise OSError(f"metrics server: {error}") from error
            log.warning(
                "metrics not served: the default metrics port is in use; pass --metrics-port",
                extra={"metrics_port": self.config.metrics_port, "error": str(error)},
            )
            return
        self._metrics_runner = runner
        log.info("serving metrics", extra={"metrics_port": self.config.metrics_port})

    def metadata(self) -> metadata_pb2.GetMetadataResponse:
        response = metadata_pb2.GetMetadataResponse(
            id=self.config.app_id,
            runtime_version=RUNTIME_VERSION,
            registered_components=[
                metadata_pb2.RegisteredComponents(name=c.name, type=c.type, version=c.version)
                for c in self.resources.components
            ],
            subscriptions=[
                metadata_pb2.PubsubSubscription(
                    pubsub_name=s.pubsub,
                    topic=s.topic,
                    dead_letter_topic=s.dead_letter_topic,
                    # As daprd lists them: the rules, then the default route as a rule
                    # without a match.
                    rules=metadata_pb2.PubsubSubscriptionRules(
                        rules=[
                            metadata_pb2.PubsubSubscriptionRule(match=r.match, path=r.path)
                            for r in s.rules
                        ]
                        + (
                            [metadata_pb2.PubsubSubscriptionRule(path=s.default_route)]
                            if s.default_route
                            else []
                        )
                    ),
                    type=metadata_pb2.STREAMING
                    if s not in self.pubsub.app_subscriptions
                    else metadata_pb2.DECLARATIVE
                    if s in self.resources.subscriptions
                    else metadata_pb2.PROGRAMMATIC,
                )
                for s in self.pubsub.subscriptions
            ],
            extended_metadata={
                f"workflow.{key}": str(value) for key, value in self.engine.stats().items()
            },
        )
        if self.config.app_port is not None:
            response.app_connection_properties.port = self.config.app_port
            response.app_connection_properties.protocol = self.config.app_protocol
            response.app_connection_properties.channel_address = "127.0.0.1"
        return response


def http_metadata(response: metadata_pb2.GetMetadataResponse) -> dict[str, Any]:
    """`GET /v1.0/metadata` in daprd's shape: the proto's JSON, except that a
    subscription's `rules` is a list of `{match, path}` (daprd's HTTP API flattens the
    proto's `rules.rules`) and its `type` is always present."""
    body: dict[str, Any] = json_format.MessageToDict(response)
    for document, subscription in zip(
        body.get("subscriptions", []), response.subscriptions, strict=True
    ):
        rules = [
            {key: value for key, value in (("match", r.match), ("path", r.path)) if value}
            for r in subscription.rules.rules
        ]
        document.pop("rules", None)
        if rules:
            document["rules"] = rules
        document["deadLetterTopic"] = subscription.dead_letter_topic
        document["type"] = metadata_pb2.PubsubSubscriptionType.Name(subscription.type)
    return body


async def serve(config: SidecarConfig) -> None:
    sidecar = Sidecar(config)
    await sidecar.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, sidecar.stop_requested.set)
    await sidecar.stop_requested.wait()
    log.info("sidecar stopping")
    await sidecar.stop()
