"""The operator under test, for real: kopf running `workflowrun_operator.handlers` (in a
`KopfRunner` thread) against kmock's Kubernetes emulator, and the orchestrator's real management
API (uvicorn, in a thread) over a real `WorkflowRuntime` on an embedded sidecar.

The handlers module reads its settings once, at import (the sync timer's interval is fixed when
kopf registers it), so this module sets the operator's environment, imports it, and puts the
environment back: every test then finds the API on the same port (restartable, to take the
orchestrator down and bring it back) with the same token.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import httpx
import jsonpatch
import kmock
import kopf
import pytest
import uvicorn
from dapr.clients import DaprClient
from kopf.testing import KopfRunner

from foundation.tokens import local_issuer
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ROOT
from testkit.sidecar import SidecarProcess
from tests.operator import rbac
from tests.operator.cluster import RESOURCE, WorkflowRunsInKmock
from tests.operator.stand_ins import register_stand_ins

# The API checks tokens of a local issuer; the operator holds one with the operator role.
ISSUER = local_issuer(Path(tempfile.mkdtemp(prefix="operator-tests-issuer-")))
_OPERATOR_ENV = {
    "ORCHESTRATOR_URL": f"http://127.0.0.1:{free_port()}",
    "ORCHESTRATOR_TOKEN": ISSUER.mint(
        "system:serviceaccount:saga:workflowrun-operator", ["operator"]
    ),
    "ORCHESTRATOR_TIMEOUT_SECONDS": "2",
    "SYNC_INTERVAL_SECONDS": "0.5",
    "RETRY_BASE_SECONDS": "0.2",
    "RETRY_MAX_SECONDS": "1",
    "LIVENESS_ENDPOINT": f"http://127.0.0.1:{free_port()}/healthz",
    "LOG_FORMAT": "json",
}
_saved = {name: os.environ.get(name) for name in _OPERATOR_ENV}
os.environ.update(_OPERATOR_ENV)
try:
    from workflowrun_operator import handlers
finally:
    for _name, _value in _saved.items():
        if _value is None:
            os.environ.pop(_name, None)
        else:
            os.environ[_name] = _value

SETTINGS = handlers.SETTINGS
assert SETTINGS.orchestrator_url == _OPERATOR_ENV["ORCHESTRATOR_URL"], (
    "workflowrun_operator.handlers was imported before the operator tests set its environment"
)

# kopf logs in through login handlers; this one points it at the current test's kmock.
_KUBE_SERVER: dict[str, str] = {}


@kopf.on.login()
def _login_to_kmock(**_: Any) -> kopf.ConnectionInfo:
    return kopf.ConnectionInfo(server=_KUBE_SERVER["url"], insecure=True)


# -- Kubernetes: kmock --------------------------------------------------------------------


class KubernetesEmulatorWithVersions(kmock.KubernetesEmulator):
    """kmock plus the API server behaviours kopf relies on that kmock leaves out: every write
    moves `metadata.resourceVersion` (kopf tells fresh watch events from stale ones by it, and
    guards its JSON patches with a `test` of it, which fails with 422 on a stale version), and
    `generateName` gives created objects (kopf's Events) a name."""

    _versions = itertools.count(2)
    _names = itertools.count(1)

    async def _handle(self, request: Any) -> Any:
        data = request.data
        if request.action == kmock.action.CREATE and isinstance(data, dict):
            metadata = data.setdefault("metadata", {})
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = f"{metadata['generateName']}{next(self._names)}"
            metadata["resourceVersion"] = str(next(self._versions))
        elif request.action == kmock.action.UPDATE and request.name:
            version = str(next(self._versions))
            if isinstance(data, dict):
                data.setdefault("metadata", {})["resourceVersion"] = version
            elif isinstance(data, list):
                data.append(
                    {"op": "replace", "path": "/metadata/resourceVersion", "value": version}
                )
        try:
            return await super()._handle(request)
        except (jsonpatch.JsonPatchTestFailed, jsonpatch.JsonPatchConflict) as error:
            return await self._render_error(
                kmock.KubernetesError(status=422, reason="Invalid", message=str(error))
            )

    async def _serve_list(self, request: Any) -> Any:
        listing: dict[str, Any] = await super()._serve_list(request)  # type: ignore[assignment]
        versions = [
            _version(item.get("metadata", {}).get("resourceVersion")) for item in listing["items"]
        ]
        listing["metadata"]["resourceVersion"] = str(max(versions, default=0))
        return listing

    async def _serve_watch(self, request: Any) -> AsyncIterator[Any]:
        # kmock's own watch subscribes to changes only after it has sent the existing objects,
        # and loses a change made meanwhile (kopf then waits for it until the watch restarts).
        # Here the subscription is taken under the same lock as the snapshot.
        # A watch from the version a list returned sends only what changed since; kmock's sends
        # every object again, and kopf would act twice on the same version.
        yield b""
        since = _version(request.params.get("resourceVersion"))
        bus = self._buses[request.resource]
        async with self._lock:
            mark = await bus.mark()
            existing = [
                {"type": "ADDED", "object": obj.raw}
                for (resource, namespace, name), obj in self._objects.items()
                if resource == request.resource
                and _watched(request, namespace, name)
                and not obj.deleted
                and _version(obj.raw.get("metadata", {}).get("resourceVersion")) > since
            ]
        try:
            for event in existing:
                yield event
            async for event in bus.stream(since=mark):
                metadata = event.get("object", {}).get("metadata", {})
                if _watched(request, metadata.get("namespace"), metadata.get("name")):
                    yield event
        finally:
            await bus.unmark(mark)


def _version(text: Any) -> int:
    return int(text) if isinstance(text, str) and text.isdigit() else 0


def _watched(request: Any, namespace: str | None, name: str | None) -> bool:
    return (request.namespace is None or namespace == request.namespace) and (
        request.name is None or name == request.name
    )


@pytest.fixture
def kmock_options() -> dict[str, Any]:
    return {"cls": KubernetesEmulatorWithVersions}


@pytest.fixture
async def cluster(kmock: kmock.KubernetesEmulator) -> AsyncIterator[WorkflowRunsInKmock]:
    kmock.resources[RESOURCE] = kmock.ResourceInfo(
        kind="WorkflowRun",
        namespaced=True,
        verbs={"list", "watch", "get", "patch", "update", "create", "delete"},
        subresources={"status"},
    )
    # kopf waits for these in discovery even with scanning off (it does not list or watch them).
    kmock.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = kmock.ResourceInfo(
        kind="CustomResourceDefinition", namespaced=False, verbs={"list", "watch", "get"}
    )
    kmock.resources["v1/namespaces"] = kmock.ResourceInfo(
        kind="Namespace", namespaced=False, verbs={"list", "watch", "get"}
    )
    kmock.resources["v1/events"] = kmock.ResourceInfo(
        kind="Event", namespaced=True, verbs={"create", "list", "get"}
    )
    _KUBE_SERVER["url"] = str(kmock.url)
    runs = WorkflowRunsInKmock(kmock)
    yield runs
    await runs.aclose()
    # Whatever the operator asked the API server for, its RBAC must grant.
    used = rbac.verbs_used(kmock)
    assert used <= rbac.granted(), (
        f"the operator used verbs its RBAC lacks: {used - rbac.granted()}"
    )


# -- the orchestrator: sidecar + workflow runtime + management API ------------------------


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[SidecarProcess]:
    """The orchestrator's sidecar with the platform's components: the API keeps its audit
    trail in the state store."""
    process = SidecarProcess(
        data_dir=tmp_path / "sidecar",
        app_id="orchestrator",
        extra_args=["--resources-path", str(ROOT / "components")],
    ).start()
    yield process
    process.stop()


@dataclass
class Orchestrator:
    """The real management API over the embedded runtime; `stop()`/`start()` take it down and
    bring it back on the same address (the runtime and its instances live on)."""

    workflows: wf.DaprWorkflowClient
    dapr: DaprClient
    url: str = SETTINGS.orchestrator_url
    token: str | None = SETTINGS.orchestrator_token
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _apps: list[Any] = field(default_factory=list)

    def start(self) -> None:
        from services.orchestrator.api import ApiSettings, create_api
        from services.orchestrator.api.identity import TokenVerifier

        verifier = TokenVerifier(
            ISSUER.issuer, ISSUER.audience, public_key_file=ISSUER.public_key_file
        )
        app = create_api(self.workflows, self.dapr, ApiSettings(verifier=verifier))
        port = int(self.url.rsplit(":", 1)[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="management-api")
        self._thread.start()
        server = self._server
        wait_until(lambda: server.started, timeout=15, what="the management API")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
        self._server = self._thread = None

    def api(self) -> httpx.AsyncClient:
        """A client of the API, to see what the orchestrator holds (not what status says)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=5)

    async def run(self, instance_id: str) -> dict[str, Any] | None:
        async with self.api() as api:
            response = await api.get(f"/v1/runs/{instance_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def orchestrator(
    sidecar: SidecarProcess,
    make_runtime: Callable[..., wf.WorkflowRuntime],
    client: wf.DaprWorkflowClient,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Orchestrator]:
    # The SDK probes the sidecar's HTTP health endpoint before connecting.
    monkeypatch.setenv("DAPR_HTTP_PORT", str(sidecar.http_port))
    monkeypatch.setenv("DAPR_HEALTH_TIMEOUT", "10")
    monkeypatch.delenv("DAPR_HTTP_ENDPOINT", raising=False)
    monkeypatch.delenv("DAPR_GRPC_ENDPOINT", raising=False)
    monkeypatch.delenv("DAPR_API_TOKEN", raising=False)
    runtime = make_runtime()
    register_stand_ins(runtime)
    runtime.start()
    with DaprClient(address=sidecar.address) as dapr:
        orchestrator = Orchestrator(workflows=client, dapr=dapr)
        orchestrator.start()
        yield orchestrator
        orchestrator.stop()


# -- the operator: kopf in a thread --------------------------------------------------------


class OperatorLog(logging.Handler):
    """The operator's log lines, formatted as it prints them (the platform's JSON lines).

    Read here rather than from `KopfRunner`'s output, which pytest's capturing empties."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        printing = [
            h for h in logging.getLogger().handlers if type(h).__name__ == "_KopfStreamHandler"
        ]
        if not printing or printing[0].formatter is None:
            return
        with contextlib.suppress(ValueError):
            self.lines.append(json.loads(printing[0].formatter.format(record)))


@dataclass
class Operator:
    """`python -m workflowrun_operator`'s command line, run by `KopfRunner` in a thread."""

    runners: list[KopfRunner] = field(default_factory=list)
    log: OperatorLog = field(default_factory=OperatorLog)

    async def start(self) -> None:
        settings = kopf.OperatorSettings()
        settings.networking.error_backoffs = [0.1, 0.2]
        settings.watching.client_timeout = 5
        runner = KopfRunner([*SETTINGS.kopf_run_args(), "--verbose"], settings=settings, timeout=30)
        logging.getLogger().addHandler(self.log)
        await asyncio.to_thread(runner.__enter__)
        self.runners.append(runner)

    async def stop(self) -> None:
        if self.runners and not self.runners[-1].future.done():
            await asyncio.to_thread(self.runners[-1].__exit__, None, None, None)
        logging.getLogger().removeHandler(self.log)

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def operator(
    cluster: WorkflowRunsInKmock, orchestrator: Orchestrator
) -> AsyncIterator[Operator]:
    # `kopf run` configures the process's logging (root level and handler, the asyncio
    # logger); the tests that run after these ones get it back as it was.
    root, asyncio_log = logging.getLogger(), logging.getLogger("asyncio")
    saved = (root.level, list(root.handlers), asyncio_log.propagate, list(asyncio_log.handlers))
    running = Operator()
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        asyncio_log.propagate = saved[2]
        asyncio_log.handlers[:] = saved[3]
        for line in running.log.lines:  # pytest shows them when the test fails
            print(json.dumps(line))
