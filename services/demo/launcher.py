"""The Multi-App Run runner (`python -m sidecar.runner`) as a child process, and when the
platform it runs is ready to take orders.

The runner prints `runner: app 'X' is up (dapr grpc G, dapr http H, app port P)` for each
app and `runner: all N apps are running` at the end; the sidecar ports come from those
lines, so the template may leave them to the runner. "Running" is not yet "ready": an app
registers its subscriptions with its sidecar only once the sidecar reaches the app's port.
The embedded pub/sub keeps a message published to a topic no app subscribes to yet (for
its retention period, docs/sidecar-runtime.md), but until every service is connected a
saga sits waiting for its replies and may time out. Ready therefore means, in this order:

1. the runner reported every app up;
2. each platform app's subscriptions show in its sidecar's `GET /v1.0/metadata`;
3. the management API answers `GET /healthz`;
4. the API reads the inventory's stock (`GET /v1/inventory/stock`): the state store
   answers and the inventory has seeded its catalogue.

The runner runs in a session of its own, so a Ctrl-C in the terminal reaches only this
process, which forwards it once; the runner then stops its apps before their sidecars.

Settings the caller wants to change (the API port, free app ports, environment for the
apps) go into a copy of the template, written next to the data (`<data-dir>/dapr.yaml`)
with absolute paths: in a template, an app's `env` wins over the runner's environment.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import yaml

from services.contracts.names import AppId, Topic
from sidecar.runner import plan
from sidecar.runner.template import AppSpec, Template, TemplateError, load

DEFAULT_API_PORT = 8080
_POLL = 0.1

# What each platform app subscribes to (docs/workflows.md, docs/services.md): until these
# show in its sidecar's metadata, a message published on them would not reach it.
SUBSCRIPTIONS: Mapping[str, frozenset[str]] = {
    AppId.ORCHESTRATOR: frozenset({Topic.ORDERS, Topic.SAGA_REPLIES, Topic.APPROVALS}),
    AppId.INVENTORY: frozenset({Topic.INVENTORY_COMMANDS}),
    AppId.PAYMENT: frozenset({Topic.PAYMENT_COMMANDS}),
    AppId.SHIPPING: frozenset({Topic.SHIPPING_COMMANDS}),
}

_APP_UP = re.compile(
    r"^runner: app '(?P<app>[^']+)' is up \(dapr grpc (?P<grpc>\d+), dapr http (?P<http>\d+)"
)
_ALL_UP = re.compile(r"^runner: all (?P<count>\d+) apps are running")


class LaunchError(Exception):
    """The platform cannot be started (a template problem), or did not become ready."""


@dataclass(frozen=True)
class SidecarPorts:
    app_id: str
    grpc_port: int
    http_port: int


def parse_app_up(line: str) -> SidecarPorts | None:
    """The sidecar ports of a runner's `app 'X' is up (...)` line, else None."""
    match = _APP_UP.match(line)
    if match is None:
        return None
    return SidecarPorts(match["app"], int(match["grpc"]), int(match["http"]))


@dataclass(frozen=True)
class Options:
    run_file: Path
    data_dir: Path
    # None: the template's (or the orchestrator's default, 8080); 0: a free port.
    api_port: int | None = None
    # Free ports instead of the template's fixed `appPort`s (tests, a second platform).
    free_app_ports: bool = False
    # Environment for every app, over the template's `env` (demo settings).
    env: Mapping[str, str] = field(default_factory=dict)
    grace_period: float = 10.0


class Launcher:
    """Starts the runner, copies its output to `output`, says when the platform is ready
    and stops it. `output` gets whole lines, the runner's prefixes kept."""

    def __init__(self, options: Options, output: BinaryIO) -> None:
        self.options = options
        self._output = output
        self._run_file = options.run_file.resolve()
        if self._run_file.is_dir():
            self._run_file = self._run_file / "dapr.yaml"
        try:
            self.template: Template = load(self._run_file)
        except TemplateError as error:
            raise LaunchError(f"{self._run_file}: {error}") from None
        self.data_dir = options.data_dir.resolve()
        self._api_port = options.api_port
        if self._api_port == 0:
            self._api_port = plan.free_port()
        self._app_ports: dict[str, int] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._lock = threading.Lock()
        self._sidecars: dict[str, SidecarPorts] = {}
        self._all_up = threading.Event()
        self._tail: collections.deque[str] = collections.deque(maxlen=60)
        self._broken_output = False

    # -- what the platform will look like ---------------------------------------------

    @property
    def app_ids(self) -> list[str]:
        return [app.app_id for app in self.template.apps]

    def app_env(self, app_id: str) -> dict[str, str]:
        """The environment an app gets, as far as the caller decides it (the runner adds
        the Dapr variables): this process's, the template's `env`, then the overrides."""
        spec = self._spec(app_id)
        env = {**os.environ, **(spec.env if spec else {}), **self.options.env}
        if app_id == AppId.ORCHESTRATOR and self._api_port is not None:
            env["API_PORT"] = str(self._api_port)
        return env

    @property
    def api_url(self) -> str | None:
        """The management API's URL, None when the template runs no orchestrator or
        turns its API off (`API_PORT=0`)."""
        if self._spec(AppId.ORCHESTRATOR) is None:
            return None
        env = self.app_env(AppId.ORCHESTRATOR)
        port = int(env.get("API_PORT") or DEFAULT_API_PORT)
        if not port:
            return None
        host = env.get("API_HOST") or "127.0.0.1"
        if host in {"0.0.0.0", "::", "[::]"}:
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    @property
    def api_token(self) -> str | None:
        if self._spec(AppId.ORCHESTRATOR) is None:
            return None
        return self.app_env(AppId.ORCHESTRATOR).get("API_TOKEN") or None

    def _spec(self, app_id: str) -> AppSpec | None:
        return next((app for app in self.template.apps if app.app_id == app_id), None)

    # -- process ----------------------------------------------------------------------

    def preflight(self) -> None:
        """Fails early, in words, when the API port is taken (say, by a platform that is
        already running): the runner checks the apps' ports, not the API's."""
        api = self.api_url
        if api is None:
            return
        port = int(api.rsplit(":", 1)[1])
        if plan.port_in_use(port):
            raise LaunchError(
                f"port {port} (the orchestrator's API_PORT) is already in use: is the platform "
                "already running? (--api-port picks another)"
            )

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_file = self._derived_template() if self._needs_copy() else self._run_file
        argv = [
            sys.executable,
            "-m",
            "sidecar.runner",
            "-f",
            str(run_file),
            "--data-dir",
            str(self.data_dir),
            "--grace-period",
            str(self.options.grace_period),
        ]
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._copy_output, name="runner-output", daemon=True)
        self._pump.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def send_signal(self, sig: signal.Signals) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(sig)

    def wait(self) -> int:
        """Waits for the runner to exit (as long as it takes) and returns its exit code."""
        assert self._process is not None
        code = self._process.wait()
        self._join_output()
        return code

    def stop(self) -> int:
        """SIGTERM, then the runner's grace period (and some) before SIGKILL to its group."""
        if self._process is None:
            return 0
        self.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=self.options.grace_period + 15)
        except subprocess.TimeoutExpired:
            self.announce(f"runner {self._process.pid} did not stop in time: killing it")
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._join_output()
        return self._process.returncode

    def announce(self, text: str) -> None:
        """Writes `text` to the output between whole lines of the runner's output."""
        self._write(text.rstrip("\n").encode() + b"\n")

    def tail(self) -> list[str]:
        """The runner's last lines of output (for an error message)."""
        with self._lock:
            return list(self._tail)

    def _copy_output(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for raw in iter(self._process.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            if (ports := parse_app_up(line)) is not None:
                self._sidecars[ports.app_id] = ports
            elif _ALL_UP.match(line):
                self._all_up.set()
            with self._lock:
                self._tail.append(line)
            self._write(raw if raw.endswith(b"\n") else raw + b"\n")

    def _write(self, data: bytes) -> None:
        with self._lock:
            if self._broken_output:
                return
            try:
                self._output.write(data)
                self._output.flush()
            except (BrokenPipeError, ValueError):
                self._broken_output = True  # keep draining the pipe, write nothing

    def _join_output(self) -> None:
        if self._pump is not None:
            self._pump.join(timeout=5)

    # -- readiness --------------------------------------------------------------------

    def wait_ready(self, timeout: float, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """True once the platform is ready; False when the runner exited or `cancelled()`
        turned true first. Raises `LaunchError` after `timeout` seconds, naming what was
        still missing."""
        deadline = time.monotonic() + timeout
        missing = "the runner to report every app up"
        with httpx.Client(timeout=2.0) as http:
            for check in self._checks(http):
                while True:
                    if not self.running or cancelled():
                        return False
                    missing = check()
                    if not missing:
                        break
                    if time.monotonic() > deadline:
                        raise LaunchError(f"not ready after {timeout:g}s: waiting for {missing}")
                    time.sleep(_POLL)
        return True

    def _checks(self, http: httpx.Client) -> Iterable[Callable[[], str]]:
        """Each check returns what it still waits for, or "" once it passes."""
        yield lambda: "" if self._all_up.is_set() else "the runner to report every app up"
        for app_id in self.app_ids:
            if app_id in SUBSCRIPTIONS:
                yield functools.partial(self._subscribed, http, app_id)
        api = self.api_url
        if api is not None:
            headers = {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}
            yield lambda: self._answers(http, f"{api}/healthz", headers, "the management API")
            if AppId.INVENTORY in self.app_ids:
                yield lambda: self._answers(
                    http, f"{api}/v1/inventory/stock", headers, "the inventory's stock"
                )

    def _subscribed(self, http: httpx.Client, app_id: str) -> str:
        ports = self._sidecars.get(app_id)
        waiting = f"app '{app_id}' to subscribe to {', '.join(sorted(SUBSCRIPTIONS[app_id]))}"
        if ports is None:
            return waiting
        token = self.app_env(app_id).get("DAPR_API_TOKEN")
        headers = {"dapr-api-token": token} if token else {}
        try:
            response = http.get(
                f"http://127.0.0.1:{ports.http_port}/v1.0/metadata", headers=headers
            )
            body: Any = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return waiting
        topics = {s.get("topic") for s in body.get("subscriptions", []) if isinstance(s, dict)}
        return "" if SUBSCRIPTIONS[app_id] <= topics else waiting

    @staticmethod
    def _answers(http: httpx.Client, url: str, headers: Mapping[str, str], what: str) -> str:
        try:
            response = http.get(url, headers=headers)
        except httpx.HTTPError:
            return what
        if response.status_code != 200:
            return what
        if url.endswith("/stock"):
            try:
                return "" if response.json().get("items") else what
            except ValueError:
                return what
        return ""

    # -- the template copy ------------------------------------------------------------

    def _needs_copy(self) -> bool:
        return bool(self._api_port is not None or self.options.free_app_ports or self.options.env)

    def _derived_template(self) -> Path:
        """The template with absolute paths and the caller's settings, for the runner."""
        raw: dict[str, Any] = yaml.safe_load(self._run_file.read_text(encoding="utf-8"))
        common = raw.get("common") or {}
        raw["common"] = common
        if self.template.common_resources:
            common.pop("resourcesPath", None)
            common["resourcesPaths"] = [str(r.path) for r in self.template.common_resources]
        taken: set[int] = set()
        for raw_app, spec in zip(raw["apps"], self.template.apps, strict=True):
            raw_app["appDirPath"] = str(spec.app_dir)
            raw_app.setdefault("appID", spec.app_id)
            if spec.resources:
                raw_app.pop("resourcesPath", None)
                raw_app["resourcesPaths"] = [str(r.path) for r in spec.resources]
            env = {str(k): v for k, v in (raw_app.get("env") or {}).items()}
            env.update(self.options.env)
            if spec.app_id == AppId.ORCHESTRATOR and self._api_port is not None:
                env["API_PORT"] = str(self._api_port)
            raw_app["env"] = env
            if self.options.free_app_ports and spec.app_port is not None:
                while (port := plan.free_port()) in taken or port == self._api_port:
                    pass
                taken.add(port)
                raw_app["appPort"] = port
                self._app_ports[spec.app_id] = port
        path = self.data_dir / "dapr.yaml"
        header = f"# Written by services.demo from {self._run_file}; rewritten on every start.\n"
        path.write_text(header + yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return path
