"""The Multi-App Run runner (`python -m sidecar.runner`) as a child process: planned,
started, watched until the platform is ready (`readiness.py`), stopped.

Every port is decided before the runner starts, by the runner's own planner
(`sidecar.runner.plan.build`) on the template with the caller's settings: each sidecar's
gRPC and HTTP port and each app's port. They go into a copy of the template, written next
to the data (`<data-dir>/dapr.yaml`, with absolute paths, the caller's settings in each
app's `env`, which wins over the runner's environment), so the runner plans exactly those
ports again and the launcher knows where every sidecar listens without reading its output.
Planning first also fails a bad template or a taken port before anything starts.

The runner runs in a session of its own, so a Ctrl-C in the terminal reaches only this
process, which forwards it once; the runner then stops its apps before their sidecars.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from demo import readiness
from foundation.ports import free_port
from foundation.tokens import local_issuer
from services.contracts.names import AppId
from sidecar.runner import plan
from sidecar.runner.template import AppSpec, Template, TemplateError, load

DEFAULT_API_PORT = 8080
# Who the launcher (and the demo's generator) is on the API.
DEMO_SUBJECT = "demo"
DEFAULT_VAULT_PORT = 8090  # the payment service's card edge (services/payment/__main__.py)
# The runner's notice that it started every app (`readiness.py`, step 1).
_ALL_UP = re.compile(r"^runner: all \d+ apps are running")


TRACE_STORE_FILE = "traces.sqlite"


class LaunchError(Exception):
    """The platform cannot be started (a template problem), or did not become ready."""


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

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str]) -> Options:
        """The options `add_platform_arguments` parsed, with `env` for every app."""
        return cls(
            run_file=args.run_file,
            data_dir=args.data_dir,
            api_port=args.api_port,
            free_app_ports=args.free_app_ports,
            env=env,
            grace_period=args.grace_period,
        )


def add_platform_arguments(p: argparse.ArgumentParser, data_dir: Path) -> None:
    """The options of the platform that `make run` and `make demo` both start."""
    p.add_argument("-f", "--run-file", type=Path, default=Path("dapr.yaml"))
    p.add_argument("--data-dir", type=Path, default=data_dir)
    p.add_argument(
        "--api-port",
        type=int,
        default=None,
        help="the management API's port (default: the template's; 0 picks a free one)",
    )
    p.add_argument(
        "--free-app-ports",
        action="store_true",
        help="free app ports instead of the template's (to run beside another platform)",
    )
    p.add_argument(
        "--ready-timeout",
        type=float,
        default=120.0,
        help="seconds for the platform to become ready (default: 120)",
    )
    p.add_argument(
        "--grace-period",
        type=float,
        default=Options.grace_period,
        help="seconds the runner gives a process to stop before killing it (default: 10)",
    )


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
            template = load(self._run_file)
        except TemplateError as error:
            raise LaunchError(f"{self._run_file}: {error}") from None
        self.data_dir = options.data_dir.resolve()
        # The API's token issuer for this platform (its key pair in the data folder).
        self.issuer = local_issuer(self.data_dir)
        self._api_token: str | None = None
        self._api_port = options.api_port
        if self._api_port == 0:
            self._api_port = free_port()
        # Beside another platform, the card edge needs a port of its own too.
        self._vault_port = free_port() if options.free_app_ports else None
        # The template as the runner will see it: the caller's settings in each app's env.
        self.template: Template = replace(
            template,
            apps=tuple(
                replace(app, env={**app.env, **self._overrides(app.app_id)})
                for app in template.apps
            ),
        )
        self._launches: dict[str, plan.Launch] = {}
        self._runner_template: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._lock = threading.Lock()
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
        return {**os.environ, **(spec.env if spec else {})}

    def _overrides(self, app_id: str) -> dict[str, str]:
        """What the caller sets in an app's environment, over the template's `env`."""
        env = dict(self.options.env)
        if "TRACE_STORE" not in os.environ:
            # Every app keeps its spans in one local store, which the API reads for
            # `sagactl workflow trace` (docs/operations.md, "Traces").
            env.setdefault("TRACE_STORE", str(self.data_dir / TRACE_STORE_FILE))
        if app_id == AppId.ORCHESTRATOR:
            # The API checks tokens of this platform's local issuer (docs/api.md).
            env.update(self.issuer.orchestrator_env())
            if self._api_port is not None:
                env["API_PORT"] = str(self._api_port)
        if app_id == AppId.PAYMENT:
            # The vault key lives with the state it opens: a fresh data folder, a fresh key.
            env.setdefault("PAYMENT_VAULT_KEY_FILE", str(self.data_dir / "payment-vault.key"))
            if self._vault_port is not None:
                env["VAULT_PORT"] = str(self._vault_port)
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
    def vault_url(self) -> str:
        """The payment service's card edge, where orders' cards are tokenized."""
        env = self.app_env(AppId.PAYMENT)
        port = int(env.get("VAULT_PORT") or DEFAULT_VAULT_PORT)
        host = env.get("VAULT_HOST") or "127.0.0.1"
        if host in {"0.0.0.0", "::", "[::]"}:
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    @property
    def api_token(self) -> str | None:
        """The launcher's own token (every role): readiness, the demo's orders and decisions."""
        if self._spec(AppId.ORCHESTRATOR) is None:
            return None
        if self._api_token is None:
            self._api_token = self.token(DEMO_SUBJECT, ["viewer", "operator", "approver"])
        return self._api_token

    def token(self, subject: str, roles: list[str]) -> str:
        """A token of this platform's issuer for `subject` with `roles`."""
        return self.issuer.mint(subject, roles)

    def _spec(self, app_id: str) -> AppSpec | None:
        return next((app for app in self.template.apps if app.app_id == app_id), None)

    # -- process ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Plans the run and writes the runner's template copy before anything starts,
        failing early in words: first when the API's or the card vault's port is taken
        (say, by a platform that is already running: the runner checks the apps' ports,
        not those), then wherever the runner's planner would."""
        ports = {"the orchestrator's API_PORT": self.api_url}
        if self._spec(AppId.PAYMENT) is not None:
            ports["the payment service's VAULT_PORT"] = self.vault_url
        for what, url in ports.items():
            port = int(url.rsplit(":", 1)[1]) if url is not None else 0
            if port and plan.port_in_use(port):
                raise LaunchError(
                    f"port {port} ({what}) is already in use: is the platform already "
                    "running? (--api-port, --free-app-ports pick others)"
                )
        allocate = self._allocator()
        template = self.template
        if self.options.free_app_ports:
            apps = tuple(
                app if app.app_port is None else replace(app, app_port=allocate())
                for app in template.apps
            )
            template = replace(template, apps=apps)
        try:
            launches = plan.build(
                template, data_dir=self.data_dir, environ=os.environ, allocate_port=allocate
            )
        except TemplateError as error:
            raise LaunchError(f"{self._run_file}: {error}") from None
        self._launches = {launch.app_id: launch for launch in launches}
        self._runner_template = self._write_template()

    def _allocator(self) -> Callable[[], int]:
        """Free ports, none of them the API's or one the template fixes."""
        fixed = {
            port
            for app in self.template.apps
            for port in (app.app_port, app.dapr_grpc_port, app.dapr_http_port, app.metrics_port)
            if port is not None
        }
        fixed |= {port for port in (self._api_port, self._vault_port) if port is not None}

        def allocate() -> int:
            while (port := free_port()) in fixed:
                pass
            return port

        return allocate

    def start(self) -> None:
        """Starts the runner on the template copy that `prepare` wrote."""
        assert self._runner_template is not None, "prepare() writes the runner's template"
        argv = [
            sys.executable,
            "-m",
            "sidecar.runner",
            "-f",
            str(self._runner_template),
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
            if _ALL_UP.match(line):
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
        """True once the platform is ready (`readiness.py`); False when the runner exited
        or `cancelled()` turned true first. Raises `LaunchError` after `timeout` seconds,
        naming what was still missing."""
        try:
            return readiness.wait_ready(
                list(self._launches.values()),
                self.api_url,
                self.api_token,
                started=self._all_up.is_set,
                running=lambda: self.running,
                cancelled=cancelled,
                timeout=timeout,
            )
        except TimeoutError as error:
            raise LaunchError(str(error)) from None

    # -- the template copy ------------------------------------------------------------

    def _write_template(self) -> Path:
        """The template with absolute paths, the caller's settings and every planned port
        fixed, so that the runner's own plan of it is the launcher's."""
        raw: dict[str, Any] = yaml.safe_load(self._run_file.read_text(encoding="utf-8"))
        common = raw.get("common") or {}
        raw["common"] = common
        if self.template.common_resources:
            common.pop("resourcesPath", None)
            common["resourcesPaths"] = [str(r.path) for r in self.template.common_resources]
        for raw_app, spec in zip(raw["apps"], self.template.apps, strict=True):
            launch = self._launches[spec.app_id]
            raw_app["appDirPath"] = str(spec.app_dir)
            raw_app.setdefault("appID", spec.app_id)
            if spec.resources:
                raw_app.pop("resourcesPath", None)
                raw_app["resourcesPaths"] = [str(r.path) for r in spec.resources]
            env = {str(k): v for k, v in (raw_app.get("env") or {}).items()}
            raw_app["env"] = {**env, **self._overrides(spec.app_id)}
            raw_app["daprGRPCPort"] = launch.grpc_port
            raw_app["daprHTTPPort"] = launch.http_port
            raw_app["metricsPort"] = launch.metrics_port
            if launch.app_port is not None:
                raw_app["appPort"] = launch.app_port
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "dapr.yaml"
        header = f"# Written by demo.launcher from {self._run_file}; rewritten on every start.\n"
        path.write_text(header + yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return path
