"""Dapr's own runtime under each app: daprd, with the Redis, placement and scheduler it needs.

The binaries are the ones `make daprd` builds from Dapr's Go modules (`.bin/dapr/`,
tools/dapr/README.md); `redis-server` is Debian's. `DaprdServices` is what the daprds of one
platform share, `DaprdRuntime` the kit's `Runtime` that `E2E_RUNTIME=daprd` selects:

- Redis, placement and scheduler start once per platform, each a `ManagedProcess` on free
  loopback ports, so each can be killed with `kill -9` and started again on the same ports
  and data (Redis keeps an append-only file: what it acknowledged survives its crash).
- The platform runs `dapr.daprd.yaml`, whose resources are the Helm chart's
  (`components-daprd/`: `pubsub.redis`, `state.redis`, the chart's Resiliency; a chart test
  holds them equal). The only change made to them is the Redis address, this platform's.
- Each app's daprd command line is the runner's (`sidecar.runner.plan` with `Daprd`: the
  flags `dapr run -f` passes) plus loopback binding for the ports the CLI leaves on every
  interface, JSON logs as the chart asks, and a Configuration naming the `sqlite` name
  resolver (daprd's standalone default, mDNS, multicasts on every interface).
- `daprd_process` is one app's daprd outside any run file (`dapr run --app-id X`), on the
  same services: the fidelity tests (tests/fidelity/runtimes.py) start theirs with it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, Self

import yaml

from sidecar.runner import plan as planner
from sidecar.runner.daprd import READY_PATH, Daprd
from sidecar.runner.plan import Launch
from sidecar.runner.template import PathField, Template
from testkit.apps import clean_environ
from testkit.ports import free_port
from testkit.process import ROOT, ManagedProcess
from testkit.sidecar import HOST, http_get

DAPR_BIN = ROOT / ".bin" / "dapr"
TEMPLATE = ROOT / "dapr.daprd.yaml"
# daprd's flags beyond the Dapr CLI's: no port off loopback, and JSON logs (the chart's
# `dapr.io/log-as-json`).
EXTRA_FLAGS = (
    "--dapr-listen-addresses",
    HOST,
    "--dapr-internal-grpc-listen-address",
    HOST,
    "--metrics-listen-address",
    HOST,
    "--log-as-json",
)


def binary(name: str) -> Path:
    """One of the binaries `make daprd` builds; says how to get it when it is missing."""
    path = DAPR_BIN / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: `make daprd` builds it")
    return path


def redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise FileNotFoundError("redis-server is missing: `make test-daprd` installs it")
    return found


@cache
def versions() -> str:
    """daprd's and Redis's versions (`--version`), or what is missing."""
    try:
        daprd = [str(binary("daprd")), "--version"]
        redis = [redis_server(), "--version"]
    except FileNotFoundError as missing:
        return str(missing)
    dapr_version = subprocess.run(daprd, capture_output=True, text=True, timeout=30).stdout
    redis_words = subprocess.run(redis, capture_output=True, text=True, timeout=30).stdout.split()
    redis_version = next((w[2:] for w in redis_words if w.startswith("v=")), "?")
    return f"daprd {dapr_version.strip()} from {DAPR_BIN}, redis-server {redis_version}"


def http_ok(port: int, path: str) -> bool:
    """`GET http://127.0.0.1:port/path` answers 2xx."""
    try:
        status, _ = http_get(f"http://{HOST}:{port}{path}", timeout=2)
    except OSError:
        return False
    return 200 <= status < 300


def redis_ready(port: int) -> bool:
    """Redis answers PING (it refuses commands while it loads its append-only file)."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def control_plane(name: str, port: int, logs: Path, *flags: str) -> ManagedProcess:
    """Dapr's `placement` or `scheduler` serving on `port`, every other port free and on
    loopback; ready when its healthz answers."""
    health = free_port()
    return ManagedProcess(
        name,
        [
            str(binary(name)),
            *("--port", str(port), "--listen-address", HOST),
            *("--healthz-port", str(health), "--healthz-listen-address", HOST),
            *("--metrics-port", str(free_port()), "--metrics-listen-address", HOST),
            *flags,
        ],
        logs / f"{name}.log",
        ready=lambda: http_ok(health, "/healthz"),
    )


class DaprdServices:
    """Redis, placement and scheduler on free loopback ports, files under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.redis_port = free_port()
        self.placement_port = free_port()
        self.scheduler_port = free_port()
        logs = root / "logs"
        redis_dir = root / "redis"
        self.redis = ManagedProcess(
            "redis",
            [
                redis_server(),
                *("--bind", HOST, "--port", str(self.redis_port), "--protected-mode", "yes"),
                *("--dir", str(redis_dir), "--save", ""),
                # Every acknowledged write is in the file before the reply (fsync left to
                # the kernel): a `kill -9` loses nothing, as with daprd's Redis in a cluster.
                *("--appendonly", "yes", "--appendfsync", "no"),
            ],
            logs / "redis.log",
            ready=lambda: redis_ready(self.redis_port),
        )
        self.placement = control_plane(
            "placement",
            self.placement_port,
            logs,
            "--initial-cluster",
            f"dapr-placement-0={HOST}:{free_port()}",
        )
        self.scheduler = control_plane(
            "scheduler",
            self.scheduler_port,
            logs,
            *("--etcd-data-dir", str(root / "scheduler")),
            *("--etcd-client-port", str(free_port()), "--etcd-client-listen-address", HOST),
            "--etcd-initial-cluster",
            f"dapr-scheduler-server-0=http://{HOST}:{free_port()}",
        )
        self._redis_dir = redis_dir

    @property
    def processes(self) -> tuple[ManagedProcess, ...]:
        return (self.redis, self.placement, self.scheduler)

    @property
    def redis_address(self) -> str:
        return f"{HOST}:{self.redis_port}"

    @property
    def placement_address(self) -> str:
        return f"{HOST}:{self.placement_port}"

    @property
    def scheduler_address(self) -> str:
        return f"{HOST}:{self.scheduler_port}"

    def start(self, timeout: float = 60.0) -> Self:
        """Starts all three at once and waits until each serves."""
        self._redis_dir.mkdir(parents=True, exist_ok=True)
        for process in self.processes:
            process.start(wait=False)
        try:
            for process in self.processes:
                process.wait_ready(timeout)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait_stopped()

    def resources(self, sources: Iterable[Path], folder: Path) -> Path:
        """The YAML resources of `sources` copied into `folder`, every `redisHost` naming this
        Redis; nothing else changes."""
        folder.mkdir(parents=True, exist_ok=True)
        for source in sources:
            for path in sorted(source.glob("*.yaml")):
                documents = [pointed_at(doc, self.redis_address) for doc in load_all(path)]
                (folder / path.name).write_text(yaml.safe_dump_all(documents, sort_keys=False))
        return folder

    def configuration(self, path: Path, spec: Mapping[str, Any] | None = None) -> Path:
        """A Configuration that names the `sqlite` name resolver (a file under `root`), plus
        whatever else `spec` sets (say, `tracing`)."""
        document = {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Configuration",
            "metadata": {"name": "daprd-tier"},
            "spec": {
                **(spec or {}),
                "nameResolution": {
                    "component": "sqlite",
                    "version": "v1",
                    "configuration": {"connectionString": str(self.root / "names.db")},
                },
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path


def daprd_process(
    services: DaprdServices,
    app_id: str,
    *,
    grpc_port: int,
    http_port: int,
    resources: Path,
    config: Path,
    log_path: Path,
    app_port: int | None = None,
    app_protocol: str = "grpc",
) -> ManagedProcess:
    """One app's daprd outside any run file, as `dapr run --app-id X --app-port P` starts it,
    on `services`; not started. Every other port is free and on loopback; ready once its
    APIs and components serve (the app need not be up yet)."""
    argv = [
        str(binary("daprd")),
        *("--app-id", app_id, "--app-protocol", app_protocol),
        *("--dapr-grpc-port", str(grpc_port), "--dapr-http-port", str(http_port)),
        *("--dapr-internal-grpc-port", str(free_port()), "--metrics-port", str(free_port())),
        *("--resources-path", str(resources), "--config", str(config)),
        *("--placement-host-address", services.placement_address),
        *("--scheduler-host-address", services.scheduler_address),
        *(("--app-port", str(app_port)) if app_port is not None else ()),
        *EXTRA_FLAGS,
    ]
    return ManagedProcess(
        f"daprd of '{app_id}'",
        argv,
        log_path,
        env=clean_environ(),
        ready=lambda: http_ok(http_port, READY_PATH),
    )


def load_all(path: Path) -> list[Any]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def pointed_at(document: Any, redis_address: str) -> Any:
    """A resource with each `redisHost` metadata item set to `redis_address`."""
    items = document.get("spec", {}).get("metadata", []) if isinstance(document, dict) else []
    for item in items:
        if item.get("name") == "redisHost":
            item["value"] = redis_address
    return document


class DaprdRuntime:
    """daprd per app (the runner's `--runtime daprd` command line) on shared services."""

    name = "daprd"
    template = TEMPLATE

    def version(self) -> str:
        return versions()

    def __init__(self) -> None:
        self.services: DaprdServices | None = None
        self._root: Path | None = None

    def start(self, root: Path) -> None:
        self._root = root
        self.services = DaprdServices(root).start()

    def plan(self, template: Template, **settings: Any) -> list[Launch]:
        """The runner's daprd launches of `template`, on this platform's Redis, placement
        and scheduler."""
        services, root = self._started()
        sources = [resource.path for resource in template.common_resources]
        resources = services.resources(sources, root / "resources")
        config = services.configuration(root / "config.yaml")
        apps = tuple(
            replace(
                app,
                resources=(),
                config_file=config,
                placement_host_address=services.placement_address,
                scheduler_host_address=services.scheduler_address,
            )
            for app in template.apps
        )
        common = (PathField("the daprd runtime's resources", resources),)
        adapted = replace(template, apps=apps, common_resources=common)
        return planner.build(adapted, daprd=Daprd(str(binary("daprd"))), **settings)

    def sidecar(self, launch: Launch, log_path: Path) -> ManagedProcess:
        return ManagedProcess(
            f"daprd of '{launch.app_id}'",
            [*launch.sidecar_argv, *EXTRA_FLAGS],
            log_path,
            env=launch.sidecar_env,
            cwd=launch.cwd,
            ready=lambda: http_ok(launch.http_port, READY_PATH),
        )

    def close(self) -> None:
        if self.services is not None:
            self.services.close()

    def _started(self) -> tuple[DaprdServices, Path]:
        if self.services is None or self._root is None:
            raise RuntimeError("the daprd runtime plans after start()")
        return self.services, self._root
