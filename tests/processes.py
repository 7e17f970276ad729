"""Real processes for tests: the sidecar started as `python -m sidecar`, killable with SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import grpc
from google.protobuf import empty_pb2

from sidecar.workflow.protos import pb_grpc

T = TypeVar("T")


_PORTS_PER_WORKER = 3000
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port that is free now and that this process has not handed out before.

    Ports come from a range of their own per pytest-xdist worker, below the kernel's
    ephemeral range (32768+), so parallel workers and outgoing connections never race a
    test for the port it picked before its server binds it.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    low = 20000 + (int(worker) if worker.isdigit() else 0) % 4 * _PORTS_PER_WORKER
    candidates = [p for p in range(low, low + _PORTS_PER_WORKER) if p not in _handed_out]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port left in {low}-{low + _PORTS_PER_WORKER - 1}")


def wait_until(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> T:
    """Polls `probe` until it returns something truthy, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)


@dataclass
class SidecarProcess:
    """One embedded sidecar process; `kill()` is a real `kill -9`."""

    data_dir: Path
    app_id: str = "test-app"
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    label: str = ""  # names the log file when several sidecars share an app id

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> Self:
        self.log_path = self.data_dir / f"{self.label or self.app_id}-sidecar.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
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
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            cwd=Path(__file__).resolve().parents[1],
        )
        log.close()
        wait_until(self._ready, timeout=30, what=f"sidecar {self.label} on {self.address}")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"sidecar exited with {self.process.returncode}: {self.logs()}")
        try:
            with grpc.insecure_channel(self.address) as channel:
                stub = pb_grpc.TaskHubSidecarServiceStub(channel)
                stub.Hello(empty_pb2.Empty(), timeout=1)
            return True
        except grpc.RpcError as error:
            # A sidecar that requires an API token is up when it refuses the call.
            return error.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[no-any-return]

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> Self:
        self.kill()
        return self.start()

    def logs(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-5000:]


def stub_for(address: str) -> Any:
    return pb_grpc.TaskHubSidecarServiceStub(grpc.insecure_channel(address))
