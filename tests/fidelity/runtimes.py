"""The runtime under a fidelity test, seen only through the addresses an app is given.

A fidelity test holds the embedded sidecar to daprd's behaviour through Dapr's own SDKs, so
it must pass unchanged on daprd: it reaches the runtime only through `AppRuntime` (an app
id and the gRPC and HTTP ports its sidecar serves), never through the sidecar process.
Each entry of `STARTERS` starts the runtime of an app id: `embedded` runs `python -m
sidecar` on the project's local resources, `daprd` runs Dapr's daprd on the chart's, on one
Redis, placement and scheduler per test; a test's `Resources` change both alike.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import dapr.ext.workflow as wf
import yaml
from dapr.clients import DaprClient
from dapr.clients.grpc.interceptors import DaprClientInterceptor

from testkit.daprd import DaprdServices, daprd_process, pointed_at
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ROOT, ManagedProcess
from testkit.sidecar import HOST, SidecarProcess, http_get, sdk_environment


@dataclass(frozen=True)
class AppRuntime:
    """The sidecar of one app, as its app knows it."""

    app_id: str
    grpc_port: int
    http_port: int
    host: str = HOST

    @property
    def grpc_address(self) -> str:
        return f"{self.host}:{self.grpc_port}"


@dataclass(frozen=True)
class Resources:
    """A test's changes to its runtime's resources, meaning the same on both runtimes:
    `metadata` per component name (added, or replacing an item of that name),
    `resiliency=False` leaves the platform's Resiliency out, `documents` are more resource
    files (file name to document)."""

    metadata: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    resiliency: bool = True
    documents: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


DEFAULT_RESOURCES = Resources()


class StartApp(Protocol):
    """Starts the runtime of one app id and returns once it serves its APIs (the
    `start_app` fixture): `start_app("shop", app_port=app.port)` for an app the runtime
    calls (`app_protocol="http"` for an HTTP app; start the app first, daprd waits for its
    port), `start_app("plain")` for clients, workers and streaming subscriptions only;
    `resources=Resources(...)` changes its components alike on both runtimes. Then
    `wait_subscribed(runtime, {"orders"})` and `Sdk.dapr(runtime)`."""

    def __call__(
        self,
        app_id: str,
        *,
        app_port: int | None = None,
        app_protocol: str = "grpc",
        resources: Resources = ...,
    ) -> AppRuntime: ...


WAIT = 30


@dataclass
class Sdk:
    """The Python SDK's workers and clients of a test's apps, closed after the test."""

    workers: list[wf.WorkflowRuntime] = field(default_factory=list)
    clients: list[wf.DaprWorkflowClient] = field(default_factory=list)
    dapr_clients: list[DaprClient] = field(default_factory=list)

    def worker(self, app: AppRuntime) -> wf.WorkflowRuntime:
        """A worker of `app`; call `.start()` once its code is registered."""
        self.workers.append(wf.WorkflowRuntime(host=app.host, port=str(app.grpc_port)))
        return self.workers[-1]

    def client(self, app: AppRuntime) -> wf.DaprWorkflowClient:
        self.clients.append(wf.DaprWorkflowClient(host=app.host, port=str(app.grpc_port)))
        return self.clients[-1]

    def dapr(self, app: AppRuntime, metadata: Sequence[tuple[str, str]] = ()) -> DaprClient:
        """The SDK's `DaprClient` of `app` (publish, state, streaming subscriptions);
        `metadata` goes with every call (say, a `traceparent`), through the SDK's own
        `DaprClientInterceptor`."""
        interceptors = [DaprClientInterceptor(list(metadata))] if metadata else None
        with sdk_environment(app.http_port):
            client = DaprClient(address=app.grpc_address, interceptors=interceptors)
        self.dapr_clients.append(client)
        return client

    def close(self) -> None:
        for worker in self.workers:
            # A worker that never started, or was shut down already, has nothing to stop.
            with contextlib.suppress(Exception):
                worker.shutdown()
        for client in self.clients:
            client.close()
        for dapr in self.dapr_clients:
            dapr.close()


def output_of(client: wf.DaprWorkflowClient, instance_id: str, app_id: str | None = None) -> Any:
    """The output of a workflow that completes (its failure, when it does not)."""
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=WAIT, app_id=app_id)
    assert state is not None, f"workflow {instance_id} vanished"
    failure = state.failure_details
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED, failure and failure.message
    return json.loads(state.serialized_output)


def metadata_of(app: AppRuntime) -> dict[str, Any]:
    """daprd's HTTP `/v1.0/metadata` document of the app's runtime."""
    status, body = http_get(f"http://{app.host}:{app.http_port}/v1.0/metadata")
    assert status == 200, body
    document: dict[str, Any] = json.loads(body)
    return document


def wait_subscribed(app: AppRuntime, topics: set[str], timeout: float = WAIT) -> None:
    """Until the runtime has subscribed the app to (at least) `topics`."""
    wait_until(
        lambda: topics <= {s["topic"] for s in metadata_of(app).get("subscriptions", [])},
        timeout=timeout,
        what=f"{app.app_id}'s runtime to subscribe to {sorted(topics)}",
    )


def write_resources(
    source: Path,
    folder: Path,
    resources: Resources,
    adapt: Callable[[Any], Any] = lambda document: document,
) -> Path:
    """The resources of `source` changed as `resources` says (each then through `adapt`),
    plus the test's own documents, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.yaml")):
        documents = []
        for document in yaml.safe_load_all(path.read_text()):
            if not document or (document["kind"] == "Resiliency" and not resources.resiliency):
                continue
            extra = resources.metadata.get(document["metadata"]["name"], {})
            if document["kind"] == "Component" and extra:
                items = [i for i in document["spec"]["metadata"] if i["name"] not in extra]
                items += [{"name": name, "value": value} for name, value in extra.items()]
                document["spec"]["metadata"] = items
            documents.append(adapt(document))
        if documents:
            (folder / path.name).write_text(yaml.safe_dump_all(documents, sort_keys=False))
    for name, document in resources.documents.items():
        (folder / name).write_text(yaml.safe_dump(dict(document), sort_keys=False))
    return folder


@dataclass
class EmbeddedRuntimes:
    """Embedded sidecars for the apps of one test, on the project's local resources
    (`components/`) as the test changes them. They share a data folder, as the sidecars of
    a Multi-App Run do, so they find each other for cross-app workflows."""

    root: Path
    sidecars: list[SidecarProcess] = field(default_factory=list)

    def start(
        self,
        app_id: str,
        *,
        app_port: int | None = None,
        app_protocol: str = "grpc",
        resources: Resources = DEFAULT_RESOURCES,
    ) -> AppRuntime:
        folder = write_resources(ROOT / "components", self.root / "resources" / app_id, resources)
        flags = ["--resources-path", str(folder), "--app-protocol", app_protocol]
        if app_port is not None:
            flags += ["--app-port", str(app_port)]
        sidecar = SidecarProcess(self.root / "data", app_id=app_id, extra_args=flags).start()
        self.sidecars.append(sidecar)
        return AppRuntime(app_id, sidecar.grpc_port, sidecar.http_port)

    def close(self) -> None:
        for sidecar in self.sidecars:
            sidecar.stop()


@dataclass
class DaprdRuntimes:
    """daprd for the apps of one test, on the chart's resources (`components-daprd/`) as
    the test changes them, pointed at this test's Redis; Redis, placement and scheduler
    start with the first app."""

    root: Path
    services: DaprdServices | None = None
    processes: list[ManagedProcess] = field(default_factory=list)

    def start(
        self,
        app_id: str,
        *,
        app_port: int | None = None,
        app_protocol: str = "grpc",
        resources: Resources = DEFAULT_RESOURCES,
    ) -> AppRuntime:
        if self.services is None:
            self.services = DaprdServices(self.root / "daprd").start()
        services = self.services
        folder = write_resources(
            ROOT / "components-daprd",
            self.root / "resources" / app_id,
            resources,
            lambda document: pointed_at(document, services.redis_address),
        )
        grpc_port, http_port = free_port(), free_port()
        process = daprd_process(
            services,
            app_id,
            grpc_port=grpc_port,
            http_port=http_port,
            resources=folder,
            config=services.configuration(self.root / "daprd" / "config.yaml"),
            log_path=self.root / "logs" / f"{app_id}-daprd.log",
            app_port=app_port,
            app_protocol=app_protocol,
        )
        self.processes.append(process)
        process.start()
        return AppRuntime(app_id, grpc_port, http_port)

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait_stopped()
        if self.services is not None:
            self.services.close()


@contextlib.contextmanager
def embedded(root: Path) -> Iterator[StartApp]:
    runtimes = EmbeddedRuntimes(root)
    try:
        yield runtimes.start
    finally:
        runtimes.close()


@contextlib.contextmanager
def daprd(root: Path) -> Iterator[StartApp]:
    runtimes = DaprdRuntimes(root)
    try:
        yield runtimes.start
    finally:
        runtimes.close()


STARTERS: dict[str, Callable[[Path], contextlib.AbstractContextManager[StartApp]]] = {
    "embedded": embedded,
    "daprd": daprd,
}
