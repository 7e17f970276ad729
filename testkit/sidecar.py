"""The embedded sidecar (`python -m sidecar`) as a process of a test, and ways to talk to it.

Ready means what an app needs before it starts: the gRPC API answers (a refusal for a
missing API token counts: the server is up) and so does the HTTP port. The helpers read
daprd's HTTP `/v1.0/metadata`, so they work on any Dapr-compatible sidecar.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import grpc
from dapr.clients import DaprClient
from google.protobuf import empty_pb2

from sidecar.workflow.protos import pb_grpc
from testkit.polling import wait_until
from testkit.ports import free_port, port_open
from testkit.process import ManagedProcess

HOST = "127.0.0.1"
_NOT_LISTENING = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
TOKEN_HEADER = "dapr-api-token"


def grpc_answers(address: str) -> bool:
    """The sidecar's gRPC API answers `Hello`; any refusal (say, of a missing API token)
    counts, as the server is up."""
    try:
        with grpc.insecure_channel(address) as channel:
            pb_grpc.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=1)
    except grpc.RpcError as error:
        return error.code() not in _NOT_LISTENING
    return True


def http_get(url: str, token: str | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header(TOKEN_HEADER, token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def sidecar_ready(host: str, grpc_port: int, http_port: int) -> bool:
    """What an app needs of its sidecar: the gRPC API answers and the HTTP port accepts
    connections (not a passing healthz: daprd fails it until its app is reachable)."""
    return grpc_answers(f"{host}:{grpc_port}") and port_open(host, http_port)


def stub_for(address: str) -> Any:
    """The workflow API's stub (`TaskHubSidecarService`) at `address`."""
    return pb_grpc.TaskHubSidecarServiceStub(grpc.insecure_channel(address))


@dataclass
class SidecarProcess:
    """One embedded sidecar; `kill()` is a real `kill -9`, `start()` again reuses its ports
    and data folder, as a restarted sidecar of the runner would."""

    data_dir: Path
    app_id: str = "test-app"
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    label: str = ""  # names the log file when several sidecars share an app id
    managed: ManagedProcess | None = field(default=None, init=False, repr=False)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.label or self.app_id}-sidecar.log"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The `subprocess.Popen` of the current run, None before the first start."""
        return None if self.managed is None else self.managed.popen

    def start(self) -> Self:
        """Starts the sidecar (the ports may have changed since the last start) and returns
        once it serves; raises, with its log, if it exits instead."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.managed = ManagedProcess(
            f"sidecar {self.label or self.app_id} on {self.address}",
            [
                sys.executable,
                "-m",
                "sidecar",
                "--app-id",
                self.app_id,
                "--dapr-grpc-port",
                str(self.grpc_port),
                "--dapr-http-port",
                str(self.http_port),
                "--data-dir",
                str(self.data_dir),
                *self.extra_args,
            ],
            self.log_path,
            env={**os.environ, **self.env},
            ready=lambda: sidecar_ready(HOST, self.grpc_port, self.http_port),
        )
        self.managed.start()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        if self.managed is not None:
            self.managed.kill()

    def stop(self) -> None:
        if self.managed is not None:
            self.managed.stop()

    def restart(self) -> Self:
        self.kill()
        return self.start()

    def logs(self) -> str:
        return "" if self.managed is None else self.managed.logs()

    def log_lines(self) -> list[dict[str, Any]]:
        """The sidecar's structured log, one dict per JSON line."""
        return [] if self.managed is None else self.managed.log_lines()

    # -- the HTTP API --------------------------------------------------------------------

    def http_get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        return http_get(f"http://{HOST}:{self.http_port}{path}", token)

    def metadata(self, token: str | None = None) -> dict[str, Any]:
        """daprd's HTTP `/v1.0/metadata` document."""
        status, body = self.http_get("/v1.0/metadata", token)
        assert status == 200, body
        document: dict[str, Any] = json.loads(body)
        return document

    def subscribed_topics(self) -> set[str]:
        return {s["topic"] for s in self.metadata().get("subscriptions", [])}


def wait_connected(
    sidecar: SidecarProcess, timeout: float = 30.0, token: str | None = None
) -> None:
    """Until the sidecar has the app's subscriptions, that is, delivers to it."""
    wait_until(
        lambda: sidecar.metadata(token).get("subscriptions"),
        timeout=timeout,
        what=f"app of sidecar {sidecar.label or sidecar.app_id} to be connected",
    )


def wait_topics(sidecar: SidecarProcess, topics: set[str], timeout: float = 30.0) -> None:
    """Until the sidecar delivers exactly `topics` to its app."""
    wait_until(
        lambda: sidecar.subscribed_topics() == topics,
        timeout=timeout,
        what=f"sidecar {sidecar.label or sidecar.app_id} to subscribe to {sorted(topics)}",
    )


_environ_lock = threading.Lock()
_SDK_VARIABLES = ("DAPR_HTTP_PORT", "DAPR_HTTP_ENDPOINT", "DAPR_GRPC_ENDPOINT", "DAPR_API_TOKEN")


@contextlib.contextmanager
def sdk_environment(http_port: int, token: str | None = None) -> Iterator[None]:
    """The SDK's clients probe the health endpoint of the sidecar the environment names
    (`DAPR_HTTP_PORT`) and read `DAPR_API_TOKEN` when they are built: point them at one
    sidecar for that moment, and put the environment back."""
    with _environ_lock:
        saved = {name: os.environ.get(name) for name in _SDK_VARIABLES}
        for name in _SDK_VARIABLES:
            os.environ.pop(name, None)
        os.environ["DAPR_HTTP_PORT"] = str(http_port)
        if token is not None:
            os.environ["DAPR_API_TOKEN"] = token
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def dapr_client(host: str, grpc_port: int, http_port: int, token: str | None = None) -> DaprClient:
    """The SDK's sync `DaprClient` of one sidecar, whatever the process's environment says."""
    with sdk_environment(http_port, token):
        return DaprClient(address=f"{host}:{grpc_port}")
