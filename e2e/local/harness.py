"""The platform of `dapr.yaml` as real processes: the local e2e suite's and `make bench`'s.

The tests need what `make run` starts (the four apps, each with its own embedded sidecar,
every sidecar on one data folder so that `pubsub.sqlite` and `state.sqlite` are shared),
but on free ports, with test settings, observable, and with every process killable on its
own. So rather than running `python -m sidecar.runner` as one process, this asks the
runner's own planner (`sidecar.runner.plan.build`) for each sidecar's and app's command
line and environment, from the real template, and starts them one by one.

A fifth app, the observer, is `tests.pubsub.subscriber_app` with its own sidecar (app id
`observer`): it subscribes to `order-status` and to every dead-letter topic and records
each delivery as a JSON line (`Observer` reads them). Its sidecar is also the test's way
in: the upstream system publishing `orders` and `approvals`, and the reader of the shared
state store.

Readiness follows the runner (sidecars answer first, then apps start) and adds what the
runner cannot know: every app's subscriptions are registered with its sidecar. The embedded
pub/sub keeps a message only for the apps subscribed when it was published, so an order
published earlier would be lost rather than late.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import grpc
import httpx
from dapr.clients import DaprClient
from google.protobuf import empty_pb2

from e2e.local.ledger import Ledger
from services.contracts.messages import ApprovalDecided, OrderPlaced
from services.contracts.names import PUBSUB, AppId, EventType, Topic, dead_letter_topic
from sidecar.runner import plan
from sidecar.runner.template import AppSpec, Template, load
from sidecar.workflow.protos import pb_grpc
from tests.processes import free_port, wait_until
from tests.pubsub.harness import sub

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "dapr.yaml"
OBSERVER = "observer"

Part = Literal["app", "sidecar"]

# Every topic a platform app dead-letters to, as the services and the orchestrator name them.
DEAD_LETTER_TOPICS = tuple(
    dead_letter_topic(topic)
    for topic in (
        Topic.ORDERS,
        Topic.SAGA_REPLIES,
        Topic.APPROVALS,
        Topic.INVENTORY_COMMANDS,
        Topic.PAYMENT_COMMANDS,
        Topic.SHIPPING_COMMANDS,
    )
)
# What each app must have registered with its sidecar before anything is published.
SUBSCRIBED: Mapping[str, frozenset[str]] = {
    AppId.ORCHESTRATOR: frozenset({Topic.ORDERS, Topic.SAGA_REPLIES, Topic.APPROVALS}),
    AppId.INVENTORY: frozenset({Topic.INVENTORY_COMMANDS}),
    AppId.PAYMENT: frozenset({Topic.PAYMENT_COMMANDS}),
    AppId.SHIPPING: frozenset({Topic.SHIPPING_COMMANDS}),
    OBSERVER: frozenset({Topic.ORDER_STATUS, *DEAD_LETTER_TOPICS}),
}
TERMINAL_STATUS_TYPES = frozenset(
    {EventType.ORDER_COMPLETED, EventType.ORDER_FAILED, EventType.ORDER_COMPENSATED}
)
# Variables of the developer's shell that must not reach the processes: the Dapr ones
# (the planner sets its own) and the platform settings (`PlatformSettings` sets them).
_SETTINGS_VARIABLES = frozenset(
    {
        "APP_PORT",
        "APP_HOST",
        "API_PORT",
        "API_HOST",
        "API_TOKEN",
        "APPROVAL_THRESHOLD_CENTS",
        "STEP_TIMEOUT_SECONDS",
        "APPROVAL_TIMEOUT_SECONDS",
        "APPROVAL_REMINDER_SECONDS",
        "COMPENSATION_ATTEMPTS",
        "COMPENSATION_TIMEOUT_SECONDS",
        "INVENTORY_SEED",
        "PAYMENT_LIMIT_CENTS",
        "SHIPPING_COUNTRIES",
    }
)


@dataclass(frozen=True)
class PlatformSettings:
    """The apps' environment settings (docs/workflows.md, docs/services.md), test-sized."""

    approval_threshold_cents: int = 100_000
    step_timeout_seconds: float = 30.0
    approval_timeout_seconds: float = 30.0
    approval_reminder_seconds: float = 0.0  # no reminder
    compensation_attempts: int = 3
    compensation_timeout_seconds: float = 15.0
    inventory_seed: Mapping[str, int] = field(default_factory=dict)
    payment_limit_cents: int = 500_000
    shipping_countries: str = "US,CA,GB,DE,FR,NL"
    # The sidecars' and apps' log level; `warn` keeps a load run from writing a line per message.
    log_level: str = "info"

    def env_for(self, app_id: str, api_port: int) -> dict[str, str]:
        common = {"LOG_LEVEL": "WARNING" if self.log_level == "warn" else self.log_level.upper()}
        if app_id == AppId.ORCHESTRATOR:
            return {
                **common,
                "API_PORT": str(api_port),
                "APPROVAL_THRESHOLD_CENTS": str(self.approval_threshold_cents),
                "STEP_TIMEOUT_SECONDS": str(self.step_timeout_seconds),
                "APPROVAL_TIMEOUT_SECONDS": str(self.approval_timeout_seconds),
                "APPROVAL_REMINDER_SECONDS": str(self.approval_reminder_seconds),
                "COMPENSATION_ATTEMPTS": str(self.compensation_attempts),
                "COMPENSATION_TIMEOUT_SECONDS": str(self.compensation_timeout_seconds),
            }
        if app_id == AppId.INVENTORY:
            return {**common, "INVENTORY_SEED": json.dumps(dict(self.inventory_seed))}
        if app_id == AppId.PAYMENT:
            return {**common, "PAYMENT_LIMIT_CENTS": str(self.payment_limit_cents)}
        if app_id == AppId.SHIPPING:
            return {**common, "SHIPPING_COUNTRIES": self.shipping_countries}
        return common


@dataclass
class Process:
    """One OS process with its output in a log file; `kill()` is a real `kill -9`."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: Path
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            # A session of its own: a Ctrl-C in the terminal reaches pytest, which then
            # stops the platform in order, and never a process behind its back.
            self.popen = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env=dict(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_running(self) -> None:
        """Raises, with the end of its log, when the process exited."""
        if self.popen is not None and self.popen.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}"
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def terminate(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()

    def wait_stopped(self, timeout: float) -> None:
        """After `terminate()`: waits for the exit, then kills what is still running."""
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, characters: int = 6000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-characters:]


@dataclass
class Node:
    """One app with its sidecar, as the planner launches them."""

    launch: plan.Launch
    app: Process
    sidecar: Process
    topics: frozenset[str]

    @property
    def app_id(self) -> str:
        return self.launch.app_id

    def process(self, part: Part) -> Process:
        return self.app if part == "app" else self.sidecar

    def metadata(self) -> dict[str, Any] | None:
        """daprd's `GET /v1.0/metadata`, or None while the sidecar does not answer."""
        url = f"http://{self.launch.host}:{self.launch.http_port}/v1.0/metadata"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                document: dict[str, Any] = json.load(response)
                return document
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def sidecar_ready(self) -> bool:
        """The sidecar answers on its gRPC and its HTTP port."""
        self.sidecar.check_running()
        try:
            with grpc.insecure_channel(f"{self.launch.host}:{self.launch.grpc_port}") as channel:
                pb_grpc.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=1)
        except grpc.RpcError:
            return False
        return self.metadata() is not None

    def subscribed(self) -> bool:
        """The sidecar has the app's subscriptions: messages published now reach the app."""
        self.sidecar.check_running()
        self.app.check_running()
        document = self.metadata() or {}
        return self.topics <= {s.get("topic") for s in document.get("subscriptions", [])}

    def app_listening(self) -> bool:
        self.app.check_running()
        assert self.launch.app_port is not None
        try:
            socket.create_connection((self.launch.host, self.launch.app_port), timeout=1).close()
        except OSError:
            return False
        return True


class Platform:
    """Starts the platform under `root` (data, logs, observer), drives and observes it."""

    def __init__(
        self, root: Path, settings: PlatformSettings | None = None, start_timeout: float = 90.0
    ) -> None:
        self.root = root
        self.settings = settings or PlatformSettings()
        self.start_timeout = start_timeout
        self.data_dir = root / "data"
        self.logs_dir = root / "logs"
        self.api_port = free_port()
        self.nodes: dict[str, Node] = {}
        self.observer = Observer(root / "observer" / "events.jsonl")
        self._dapr: DaprClient | None = None
        self._http: httpx.Client | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Platform:
        launches = plan.build(
            self._template(),
            data_dir=self.data_dir,
            environ=_clean_environ(),
            python=sys.executable,
        )
        for launch in launches:
            self.nodes[launch.app_id] = Node(
                launch,
                app=Process(
                    f"app '{launch.app_id}'",
                    launch.app_argv,
                    launch.app_env,
                    launch.cwd,
                    self.logs_dir / f"{launch.app_id}.log",
                ),
                sidecar=Process(
                    f"sidecar of '{launch.app_id}'",
                    launch.sidecar_argv,
                    launch.sidecar_env,
                    launch.cwd,
                    self.logs_dir / f"{launch.app_id}-sidecar.log",
                ),
                topics=SUBSCRIBED[launch.app_id],
            )
        try:
            for node in self.nodes.values():
                node.sidecar.start()
            for node in self.nodes.values():
                wait_until(
                    node.sidecar_ready,
                    timeout=self.start_timeout,
                    interval=0.1,
                    what=f"sidecar of {node.app_id}",
                )
            for node in self.nodes.values():
                node.app.start()
            for node in self.nodes.values():
                wait_until(
                    node.subscribed,
                    timeout=self.start_timeout,
                    interval=0.1,
                    what=f"{node.app_id}'s subscriptions {sorted(node.topics)}",
                )
            wait_until(
                self._api_ready, timeout=self.start_timeout, interval=0.1, what="management API"
            )
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Apps first (they may still call their sidecar on the way out), then sidecars."""
        if self._dapr is not None:
            self._dapr.close()
            self._dapr = None
        if self._http is not None:
            self._http.close()
            self._http = None
        for part in ("app", "sidecar"):
            processes = [node.process(part) for node in self.nodes.values()]
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait_stopped(timeout=10)

    def kill(self, app_id: str, part: Part) -> None:
        """`kill -9` of one app or one sidecar; the others go on."""
        self.nodes[app_id].process(part).kill()

    def start_part(self, app_id: str, part: Part, timeout: float = 60.0) -> None:
        """Starts a killed app or sidecar again, same ports, and waits until it serves: an
        app accepting calls (the orchestrator's API too); a sidecar answering, and once its
        app runs, with the app's subscriptions (a new sidecar lists them anew). To restart
        both, start the sidecar first, as the runner does: the app waits for it."""
        node = self.nodes[app_id]
        process = node.process(part)
        if process.running:
            raise RuntimeError(f"{process.name} is running")
        process.start()
        if part == "sidecar":
            wait_until(node.sidecar_ready, timeout=timeout, interval=0.1, what=process.name)
        else:
            wait_until(node.app_listening, timeout=timeout, interval=0.1, what=process.name)
            if app_id == AppId.ORCHESTRATOR:
                wait_until(self._api_ready, timeout=timeout, interval=0.1, what="the API")
        if node.app.running:
            wait_until(node.subscribed, timeout=timeout, interval=0.1, what=process.name)

    def restart(self, app_id: str, part: Part) -> None:
        self.kill(app_id, part)
        self.start_part(app_id, part)

    def check_running(self) -> None:
        """Raises when any process died that the test did not kill."""
        for node in self.nodes.values():
            node.sidecar.check_running()
            node.app.check_running()

    # -- driving -----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def dapr(self) -> DaprClient:
        """The SDK's client of the observer's sidecar: the upstream system's connection."""
        if self._dapr is None:
            launch = self.nodes[OBSERVER].launch
            with _sdk_environment(launch.http_port):
                self._dapr = DaprClient(address=f"{launch.host}:{launch.grpc_port}")
        return self._dapr

    @property
    def ledger(self) -> Ledger:
        """The services' records in the shared state store, read through the observer's sidecar."""
        return Ledger(self.dapr)

    @property
    def api(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self.api_url, timeout=30.0)
        return self._http

    def publish(self, topic: Topic | str, event_type: EventType | str, data: str) -> None:
        """A CloudEvent of `event_type` on `topic`, as an upstream system publishes it."""
        self.dapr.publish_event(
            PUBSUB,
            str(topic),
            data,
            data_content_type="application/json",
            publish_metadata={"cloudevent.type": str(event_type)},
        )

    def place_order(self, order: OrderPlaced) -> None:
        self.publish(Topic.ORDERS, EventType.ORDER_PLACED, order.to_json())

    def decide(self, decision: ApprovalDecided) -> None:
        self.publish(Topic.APPROVALS, EventType.APPROVAL_DECIDED, decision.to_json())

    def cli(self, *args: str, timeout: float = 60.0) -> CliResult:
        """`python -m sagactl --api-url <this platform> ARGS...` as a subprocess."""
        completed = subprocess.run(
            [sys.executable, "-m", "sagactl", "--api-url", self.api_url, *args],
            cwd=ROOT,
            env=_clean_environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(list(args), completed.returncode, completed.stdout, completed.stderr)

    # -- reading -----------------------------------------------------------------------

    def run(self, instance_id: str) -> dict[str, Any] | None:
        """`GET /v1/runs/{id}`: the run, or None when there is none."""
        response = self.api.get(f"/v1/runs/{instance_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def wait_run_status(
        self, instance_id: str, statuses: set[str], timeout: float = 60.0
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            run = self.run(instance_id)
            return run if run is not None and run["status"] in statuses else None

        return wait_until(
            probe, timeout=timeout, interval=0.1, what=f"{instance_id} in {sorted(statuses)}"
        )

    def log_records(self, app_id: str) -> list[dict[str, Any]]:
        """An app's JSON log lines (the platform's apps log JSON on stderr)."""
        records = []
        for line in self.nodes[app_id].app.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):  # a line being written right now
                    records.append(json.loads(line))
        return records

    def logs(self) -> str:
        """The end of every log, for a failing assertion's message."""
        parts = []
        for node in self.nodes.values():
            for process in (node.app, node.sidecar):
                parts.append(f"==== {process.name}\n{process.log_tail(2500)}")
        return "\n".join(parts)

    # -- internals ---------------------------------------------------------------------

    def _api_ready(self) -> bool:
        self.nodes[AppId.ORCHESTRATOR].app.check_running()
        try:
            return self.api.get("/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _template(self) -> Template:
        """The real `dapr.yaml`, on free app ports with the test settings, plus the observer."""
        template = load(TEMPLATE)
        apps = [
            replace(
                app,
                app_port=free_port(),
                env={**app.env, **self.settings.env_for(app.app_id, self.api_port)},
                log_level=self.settings.log_level,
            )
            for app in template.apps
        ]
        return replace(template, apps=(*apps, self._observer_spec()))

    def _observer_spec(self) -> AppSpec:
        port = free_port()
        folder = self.observer.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "observer.json"
        config.write_text(
            json.dumps(
                {
                    "port": port,
                    "events": str(self.observer.path),
                    "label": OBSERVER,
                    "subscriptions": [sub(topic) for topic in sorted(SUBSCRIBED[OBSERVER])],
                }
            )
        )
        return AppSpec(
            label="observer",
            app_id=OBSERVER,
            app_dir=ROOT,
            command=(sys.executable, "-m", "tests.pubsub.subscriber_app", str(config)),
            env={"PYTHONUNBUFFERED": "1"},
            app_port=port,
            app_protocol="grpc",
            dapr_grpc_port=None,
            dapr_http_port=None,
            resources=(),  # the template's `common` resources: components/
            log_level=self.settings.log_level,
            listen_addresses=None,
            max_body_size=None,
        )


@dataclass(frozen=True)
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, self.describe()
        return json.loads(self.stdout)

    def describe(self) -> str:
        return f"sagactl {' '.join(self.args)} -> {self.returncode}\n{self.stdout}\n{self.stderr}"


@dataclass(frozen=True)
class Delivery:
    """One message the observer received; `seen_at` is `time.monotonic()` when read."""

    topic: str
    type: str
    data: Any
    seen_at: float

    @property
    def order_id(self) -> str | None:
        return self.data.get("orderId") if isinstance(self.data, dict) else None


class Observer:
    """Reads the observer app's event log as it grows (complete lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def deliveries(self, topic: str | None = None) -> list[Delivery]:
        with self._lock:
            self._read_new()
            found = list(self._deliveries)
        return [d for d in found if topic is None or d.topic == topic]

    def statuses(self, order_id: str | None = None) -> list[Delivery]:
        return [
            d
            for d in self.deliveries(Topic.ORDER_STATUS)
            if order_id is None or d.order_id == order_id
        ]

    def finals(self) -> dict[str, Delivery]:
        """The first terminal status event of each order."""
        first: dict[str, Delivery] = {}
        for delivery in self.statuses():
            if delivery.type in TERMINAL_STATUS_TYPES and delivery.order_id is not None:
                first.setdefault(delivery.order_id, delivery)
        return first

    def wait_for(
        self,
        predicate: Callable[[Delivery], bool],
        count: int = 1,
        timeout: float = 60.0,
        what: str = "",
    ) -> list[Delivery]:
        def probe() -> list[Delivery] | None:
            found = [d for d in self.deliveries() if predicate(d)]
            return found if len(found) >= count else None

        return wait_until(probe, timeout=timeout, interval=0.05, what=what or "observer events")

    def wait_final(self, order_id: str, timeout: float = 60.0) -> Delivery:
        """The order's terminal status event (`order.completed`, `.failed`, `.compensated`)."""
        return self.wait_for(
            lambda d: (
                d.topic == Topic.ORDER_STATUS
                and d.type in TERMINAL_STATUS_TYPES
                and d.order_id == order_id
            ),
            timeout=timeout,
            what=f"the final status of order {order_id}",
        )[0]

    def _read_new(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as file:
            file.seek(self._offset)
            chunk = file.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        now = time.monotonic()
        for line in chunk[: end + 1].splitlines():
            record = json.loads(line)
            text = record.get("data_text", "")
            try:
                data = json.loads(text)
            except ValueError:
                data = text
            self._deliveries.append(Delivery(record["topic"], record["type"], data, now))
        self._offset += end + 1


def _clean_environ() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DAPR_") and name not in _SETTINGS_VARIABLES
    }


_environ_lock = threading.Lock()


@contextlib.contextmanager
def _sdk_environment(http_port: int) -> Iterator[None]:
    """The SDK's `DaprClient` probes the health endpoint of the sidecar named by the
    environment (`DAPR_HTTP_PORT`) when it is built: point it at ours for that moment."""
    names = ("DAPR_HTTP_PORT", "DAPR_HTTP_ENDPOINT", "DAPR_GRPC_ENDPOINT", "DAPR_API_TOKEN")
    with _environ_lock:
        saved = {name: os.environ.get(name) for name in names}
        for name in names:
            os.environ.pop(name, None)
        os.environ["DAPR_HTTP_PORT"] = str(http_port)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
