"""The platform of `dapr.yaml` as real processes: the e2e suite's and `make bench`'s.

What `make run` starts (the four apps, each with a sidecar of its own), but on free ports,
with test settings, observable, and with every process killable on its own. So rather than
running `python -m sidecar.runner` as one process, the runner's own planner
(`sidecar.runner.plan.build`) turns the real template into each app's command line, ports
and environment, and each process is started here.

What runs under each app is one pluggable piece, a `Runtime` (`testkit.runtimes`): the
embedded sidecar (every sidecar on one data folder so that `pubsub.sqlite` and
`state.sqlite` are shared) or, selected by `E2E_RUNTIME=daprd`, Dapr's own daprd on Redis,
placement and scheduler. The runtime names the run file (`dapr.yaml`, `dapr.daprd.yaml`:
the same apps) and plans it. The apps, the observer and every assertion only see Dapr's
APIs, so they do not care which runtime runs.

The payment service's card edge listens on a port of the platform's own (`vault_url`): a
test tokenizes its cards there (`tokenize`, `token_for`), as an upstream system does, and
places orders that carry the token.

`PlatformSettings.replicas` starts each service app (inventory, payment, shipping) that
many times, each replica with a sidecar of its own, as the chart's `replicaCount` does:
competing consumers of the app's topics. Replica n is the node `<app id>-<n>`.

A fifth app, the observer, is `testkit.subscriber_app` with its own sidecar (app id
`observer`): it subscribes to `order-status` and every dead-letter topic and records each
delivery (`platform.observer` reads them). Its sidecar is also the test's way in: the
upstream system publishing `orders` and `approvals`, and the reader of the state store.

Ready means: every sidecar serves, then every app's subscriptions are registered with its
sidecar, then the management API answers.

The API checks bearer tokens of a local issuer whose key lives in the platform's data folder
(`foundation.tokens`), as under `make run`: the kit's own calls (`api`, `cli`) carry a token
of a kit identity holding every role, and `token(subject, roles)` mints others for a test.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Self

import httpx
from dapr.clients import DaprClient

from foundation.tokens import local_issuer
from sagactl.card_vault import SavedCards, tokenize
from services.contracts.messages import ApprovalDecided, OrderPlaced
from services.contracts.names import PUBSUB, AppId, EventType, Topic
from services.contracts.topology import DEAD_LETTER_TOPICS, subscribed_topics
from sidecar.runner import plan
from sidecar.runner.template import AppSpec, Template, load
from testkit.apps import clean_environ
from testkit.observer import Observer, sub, subscriber_command
from testkit.polling import wait_until
from testkit.ports import free_port, port_open
from testkit.process import ROOT, ManagedProcess
from testkit.runtimes import Runtime, runtime_from_environment
from testkit.sidecar import dapr_client

OBSERVER = "observer"
# The kit's own identity on the API: every role, a subject no test order has as its customer.
KIT_SUBJECT = "e2e-kit"
KIT_ROLES = ["viewer", "operator", "approver"]
# What the observer records: what a downstream system sees of the platform.
OBSERVED_TOPICS = frozenset({Topic.ORDER_STATUS, *DEAD_LETTER_TOPICS})

# The apps `PlatformSettings.replicas` multiplies.
SERVICE_APPS = frozenset({AppId.INVENTORY, AppId.PAYMENT, AppId.SHIPPING})

Part = Literal["app", "sidecar"]
PARTS: tuple[Part, ...] = ("app", "sidecar")


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
    run_retention: str = "168h"  # finished runs purged this long after they end (Go duration)
    run_retention_interval: str = "5m"
    # The sidecars' and apps' log level; `warn` keeps a load run from writing a line per message.
    log_level: str = "info"
    # Added to every app's environment: the `OTEL_*` variables of a traced run (`otlp_sink`).
    app_env: Mapping[str, str] = field(default_factory=dict)
    # Instances of each service app (inventory, payment, shipping), each with its own
    # sidecar: competing consumers of the app's topics. Replica n is the node `<app>-<n>`.
    replicas: int = 1

    def env_for(
        self, app_id: str, api_port: int, auth: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        common = {
            **self.app_env,
            "LOG_LEVEL": "WARNING" if self.log_level == "warn" else self.log_level.upper(),
        }
        if app_id == AppId.ORCHESTRATOR:
            return {
                **common,
                **(auth or {}),
                "API_PORT": str(api_port),
                "APPROVAL_THRESHOLD_CENTS": str(self.approval_threshold_cents),
                "STEP_TIMEOUT_SECONDS": str(self.step_timeout_seconds),
                "APPROVAL_TIMEOUT_SECONDS": str(self.approval_timeout_seconds),
                "APPROVAL_REMINDER_SECONDS": str(self.approval_reminder_seconds),
                "COMPENSATION_ATTEMPTS": str(self.compensation_attempts),
                "COMPENSATION_TIMEOUT_SECONDS": str(self.compensation_timeout_seconds),
                "RUN_RETENTION": self.run_retention,
                "RUN_RETENTION_INTERVAL": self.run_retention_interval,
            }
        if app_id == AppId.INVENTORY:
            return {**common, "INVENTORY_SEED": json.dumps(dict(self.inventory_seed))}
        if app_id == AppId.PAYMENT:
            return {**common, "PAYMENT_LIMIT_CENTS": str(self.payment_limit_cents)}
        if app_id == AppId.SHIPPING:
            return {**common, "SHIPPING_COUNTRIES": self.shipping_countries}
        return common


# --- the platform ---------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    """One app with its sidecar."""

    launch: plan.Launch
    app: ManagedProcess
    sidecar: ManagedProcess
    topics: frozenset[str]

    @property
    def app_id(self) -> str:
        return self.launch.app_id

    def process(self, part: Part) -> ManagedProcess:
        return self.app if part == "app" else self.sidecar

    def metadata(self) -> dict[str, Any] | None:
        """Dapr's `GET /v1.0/metadata`, or None while the sidecar does not answer."""
        url = f"http://{self.launch.host}:{self.launch.http_port}/v1.0/metadata"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                document: dict[str, Any] = json.load(response)
                return document
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def subscribed(self) -> bool:
        """The sidecar has the app's subscriptions: messages published now reach the app."""
        self.sidecar.check_running()
        self.app.check_running()
        document = self.metadata() or {}
        return self.topics <= {s.get("topic") for s in document.get("subscriptions", [])}

    def app_listening(self) -> bool:
        self.app.check_running()
        assert self.launch.app_port is not None
        return port_open(self.launch.host, self.launch.app_port)


class Platform:
    """Starts the platform under `root` (data, logs, observer), drives and observes it."""

    def __init__(
        self,
        root: Path,
        settings: PlatformSettings | None = None,
        start_timeout: float = 90.0,
        runtime: Runtime | None = None,
    ) -> None:
        self.root = root
        self.settings = settings or PlatformSettings()
        self.start_timeout = start_timeout
        self.runtime = runtime or runtime_from_environment()
        self.data_dir = root / "data"
        self.logs_dir = root / "logs"
        self.api_port = free_port()
        self.issuer = local_issuer(self.data_dir)
        self.api_token = self.issuer.mint(KIT_SUBJECT, KIT_ROLES)
        # The payment service's card edge, and a vault key of this platform's own.
        self.vault_port = free_port()
        self.vault_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self._saved_cards = SavedCards(self.vault_url)
        self.nodes: dict[str, Node] = {}
        self.observer = Observer(root / "observer" / "events.jsonl")
        self._dapr: DaprClient | None = None
        self._http: httpx.Client | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        try:
            self.runtime.start(self.root / "runtime")
            template = self._template()
            launches = [(launch.app_id, launch) for launch in self._plan(template)]
            for number in range(2, self.settings.replicas + 1):
                replicas = self._plan(self._replicas(template, number))
                launches += [(f"{launch.app_id}-{number}", launch) for launch in replicas]
        except BaseException:
            self.runtime.close()
            raise
        for name, launch in launches:
            self.nodes[name] = Node(
                launch,
                app=ManagedProcess(
                    f"app '{launch.app_id}'",
                    launch.app_argv,
                    self.logs_dir / f"{name}.log",
                    env=launch.app_env,
                    cwd=launch.cwd,
                ),
                sidecar=self.runtime.sidecar(launch, self.logs_dir / f"{name}-sidecar.log"),
                topics=(
                    OBSERVED_TOPICS
                    if launch.app_id == OBSERVER
                    else subscribed_topics(launch.app_id)
                ),
            )
        try:
            self.start_all()
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
        for part in PARTS:
            processes = [node.process(part) for node in self.nodes.values()]
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait_stopped()
        self.runtime.close()

    def kill_all(self) -> None:
        """`kill -9` of every app and sidecar at once (the observer's too), as a power cut:
        no shutdown code runs anywhere. What a runtime shares (daprd's Redis, placement,
        scheduler) stays up, as a managed service would."""
        processes = [node.process(part) for node in self.nodes.values() for part in PARTS]
        running = [process for process in processes if process.running]
        for process in running:
            process.send_signal(signal.SIGKILL)
        for process in running:
            process.wait()

    def start_all(self) -> None:
        """Every sidecar, then every app, on their ports and data (at start, or after
        `kill_all`), until each app's subscriptions are registered and the API answers."""
        self._start_all("sidecar")
        self._start_all("app")
        for node in self.nodes.values():
            self._wait(node.subscribed, f"{node.app_id}'s subscriptions {sorted(node.topics)}")
        self._wait(self._api_ready, "the management API")

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
        process.start(wait=False)
        if part == "sidecar":
            process.wait_ready(timeout)
        else:
            self._wait(node.app_listening, process.name, timeout)
            if app_id == AppId.ORCHESTRATOR:
                self._wait(self._api_ready, "the API", timeout)
        if node.app.running:
            self._wait(node.subscribed, process.name, timeout)

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
            self._dapr = dapr_client(launch.host, launch.grpc_port, launch.http_port)
        return self._dapr

    @property
    def api(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.api_url,
                timeout=30.0,
                headers={"Authorization": f"Bearer {self.api_token}"},
            )
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

    @property
    def vault_url(self) -> str:
        return f"http://127.0.0.1:{self.vault_port}"

    def tokenize(self, card: str) -> str:
        """A new token for `card` from the payment service's card edge, as an upstream
        system gets one before it places an order (the card goes nowhere else)."""
        return tokenize(self.vault_url, card)["token"]

    def token_for(self, card: str) -> str:
        """A token for `card`, the same one each time (a customer's saved card)."""
        return self._saved_cards.token(card)

    def place_order(self, order: OrderPlaced) -> None:
        self.publish(Topic.ORDERS, EventType.ORDER_PLACED, order.to_json())

    def decide(self, decision: ApprovalDecided) -> None:
        self.publish(Topic.APPROVALS, EventType.APPROVAL_DECIDED, decision.to_json())

    def token(self, subject: str, roles: list[str]) -> str:
        """A bearer token the platform's API accepts, for `subject` with `roles`."""
        return self.issuer.mint(subject, roles)

    def cli(self, *args: str, timeout: float = 60.0, token: str | None = None) -> CliResult:
        """`python -m sagactl --api-url <this platform> ARGS...` as a subprocess, with the
        kit's token (or `token`) and no config file of the developer's."""
        env = {
            **clean_environ(),
            "SAGA_API_TOKEN": token or self.api_token,
            "SAGACTL_CONFIG": os.devnull,
        }
        completed = subprocess.run(
            [sys.executable, "-m", "sagactl", "--api-url", self.api_url, *args],
            cwd=ROOT,
            env=env,
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
        return self.nodes[app_id].app.log_lines()

    def logs(self) -> str:
        """The end of every log, for a failing assertion's message."""
        return "\n".join(
            f"==== {process.name}\n{process.logs(2500)}"
            for node in self.nodes.values()
            for process in (node.app, node.sidecar)
        )

    # -- internals ---------------------------------------------------------------------

    def _start_all(self, part: Part) -> None:
        """Starts that part of every node at once, then waits for each to serve."""
        processes = [node.process(part) for node in self.nodes.values()]
        for process in processes:
            process.start(wait=False)
        for process in processes:
            process.wait_ready(self.start_timeout)

    def _wait(self, probe: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        wait_until(probe, timeout=timeout or self.start_timeout, interval=0.1, what=what)

    def _api_ready(self) -> bool:
        self.nodes[AppId.ORCHESTRATOR].app.check_running()
        try:
            return self.api.get("/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _template(self) -> Template:
        """The runtime's real run file, on free app ports with the test settings, plus the
        observer."""
        template = load(self.runtime.template)
        apps = [
            replace(
                app,
                app_port=free_port(),
                env={
                    **app.env,
                    **self.settings.env_for(
                        app.app_id, self.api_port, self.issuer.orchestrator_env()
                    ),
                    **self._vault_env(app.app_id),
                },
                log_level=self.settings.log_level,
            )
            for app in template.apps
        ]
        return replace(template, apps=(*apps, self._observer_spec()))

    def _plan(self, template: Template) -> list[plan.Launch]:
        return list(
            self.runtime.plan(
                template,
                data_dir=self.data_dir,
                environ=clean_environ(),
                python=sys.executable,
                allocate_port=free_port,
            )
        )

    def _replicas(self, template: Template, number: int) -> Template:
        """Replica `number` of each service app of `template`: the same app id and
        settings on ports of its own (a run file holds one app per id, hence a file each)."""
        apps = [
            replace(
                app,
                label=f"{app.label}-{number}",
                app_port=free_port(),
                dapr_grpc_port=None,
                dapr_http_port=None,
                metrics_port=None,
                env={**app.env, **self._vault_env(app.app_id, replica=True)},
            )
            for app in template.apps
            if app.app_id in SERVICE_APPS
        ]
        return replace(template, apps=tuple(apps))

    def _vault_env(self, app_id: str, replica: bool = False) -> dict[str, str]:
        if app_id != AppId.PAYMENT:
            return {}
        port = free_port() if replica else self.vault_port
        return {"VAULT_PORT": str(port), "PAYMENT_VAULT_KEY": self.vault_key}

    def _observer_spec(self) -> AppSpec:
        port = free_port()
        command = subscriber_command(
            self.observer.path.parent / "observer.json",
            port=port,
            events=self.observer.path,
            label=OBSERVER,
            subscriptions=[sub(topic) for topic in sorted(OBSERVED_TOPICS)],
        )
        return AppSpec(
            label=OBSERVER,
            app_id=OBSERVER,
            app_dir=ROOT,
            command=command,
            env={"PYTHONUNBUFFERED": "1"},
            app_port=port,
            app_protocol="grpc",
            dapr_grpc_port=None,
            dapr_http_port=None,
            metrics_port=None,
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
