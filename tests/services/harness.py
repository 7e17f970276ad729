"""Real processes for the services' integration tests.

One service (`python -m services.<name>`) with its own embedded sidecar on the project's
`components/`, and a recorder (`tests.pubsub.subscriber_app`, with its sidecar)
subscribed to `saga-replies` and the service's dead-letter topic. Both sidecars share one
data dir, so one pub/sub and one state database, as under the Multi-App Run runner.
Commands go in through the real `DaprClient`; replies, dead letters and state come back
through it and the recorder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dapr.clients import DaprClient

from services.contracts.messages import Command, Contract, DeadLetter
from services.contracts.names import PUBSUB, STATESTORE, AppId, EventType, Topic, dead_letter_topic
from services.contracts.topology import SUBSCRIPTIONS
from tests.processes import free_port, wait_until
from tests.pubsub.harness import ROOT, Sidecar, SubscriberApp, data_of, sub, wait_connected

COMPONENTS = ROOT / "components"
RECORDER = "recorder"


@dataclass
class ServiceProcess:
    """`python -m services.<name>` talking to `sidecar`; its JSON log goes to a file."""

    name: str
    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self, sidecar: Sidecar) -> ServiceProcess:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={
                    **inherited,
                    **self.env,
                    "APP_PORT": str(self.port),
                    "DAPR_GRPC_PORT": str(sidecar.grpc_port),
                    "DAPR_HTTP_PORT": str(sidecar.http_port),
                },
                cwd=ROOT,
            )
        return self

    def connected(self, sidecar: Sidecar) -> bool:
        """Whether `sidecar` delivers to the service yet; fails at once if the service died."""
        assert self.process is not None
        if self.process.poll() is not None:
            log = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {log}")
        return bool(sidecar.metadata().get("subscriptions"))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_lines(self) -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for line in self.log_path.read_text(errors="replace").splitlines()
            if line.startswith("{")
        ]


@dataclass
class RunningService:
    """A started service, its recorder and a client; the test-facing verbs."""

    topic: Topic
    service: ServiceProcess
    recorder: SubscriberApp
    client: DaprClient

    def send(self, event_type: EventType | str, body: Contract | str) -> None:
        """Publishes a command (or any body) on the service's topic as `event_type`."""
        self.client.publish_event(
            PUBSUB,
            str(self.topic),
            body if isinstance(body, str) else body.to_json(),
            data_content_type="application/json",
            publish_metadata={"cloudevent.type": str(event_type)},
        )

    def replies(self, command_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(event type, data) of every reply received so far for `command_id`."""
        return [
            (event["type"], data_of(event))
            for event in self.recorder.events()
            if event["topic"] == Topic.SAGA_REPLIES and data_of(event)["commandId"] == command_id
        ]

    def wait_replies(self, command_id: str, count: int = 1) -> list[tuple[str, dict[str, Any]]]:
        def probe() -> list[tuple[str, dict[str, Any]]] | None:
            replies = self.replies(command_id)
            return replies if len(replies) >= count else None

        return wait_until(probe, timeout=30, what=f"{count} reply(ies) to {command_id}")

    def reply(self, event_type: EventType, command: Command) -> tuple[str, dict[str, Any]]:
        """Sends `command` and returns its reply: (event type, data)."""
        self.send(event_type, command)
        return self.wait_replies(command.command_id)[0]

    def wait_dead_letter(self, marker: str) -> DeadLetter:
        """The dead letter whose original data contains `marker`."""

        def probe() -> DeadLetter | None:
            for event in self.recorder.events():
                if event["topic"] == dead_letter_topic(self.topic):
                    letter = DeadLetter.parse(event["data_text"])
                    if marker in letter.data:
                        return letter
            return None

        return wait_until(probe, timeout=30, what=f"dead letter with '{marker}'")

    def state(self, key: str) -> Any:
        """The JSON value at `key`, or None."""
        data = self.client.get_state(STATESTORE, key).data
        return json.loads(data) if data else None


@contextmanager
def running_service(root: Path, app_id: AppId, env: dict[str, str]) -> Iterator[RunningService]:
    """The service of `app_id` on its topology subscription (one topic), and a recorder."""
    [subscription] = SUBSCRIPTIONS[app_id]
    topic, name = subscription.topic, str(app_id)
    data_dir = root / "data"
    resources = ["--resources-path", str(COMPONENTS)]
    service = ServiceProcess(name, root, env)
    recorder = SubscriberApp(
        root / "apps", RECORDER, [sub(Topic.SAGA_REPLIES), sub(subscription.dead_letter_topic)]
    )
    sidecars = [
        Sidecar(
            data_dir,
            app_id=name,
            label=name,
            extra_args=[*resources, "--app-port", str(service.port)],
        ),
        Sidecar(
            data_dir,
            app_id=RECORDER,
            label=RECORDER,
            extra_args=[*resources, "--app-port", str(recorder.port)],
        ),
    ]
    with pytest.MonkeyPatch.context() as env_patch:
        try:
            for sidecar in sidecars:
                sidecar.start()
            service.start(sidecars[0])
            recorder.start()
            wait_until(lambda: service.connected(sidecars[0]), what=f"{name} to subscribe")
            wait_connected(sidecars[1])
            # the SDK's client finds the sidecar's health endpoint through the environment
            env_patch.setenv("DAPR_HTTP_PORT", str(sidecars[0].http_port))
            env_patch.delenv("DAPR_API_TOKEN", raising=False)
            with DaprClient(address=sidecars[0].address) as client:
                yield RunningService(topic, service, recorder, client)
        finally:
            service.kill()
            recorder.kill()
            for sidecar in sidecars:
                sidecar.stop()


def assert_invalid_command_dead_lettered(running: RunningService, event_type: EventType) -> None:
    """A command failing its schema goes to the dead-letter topic with the reason, unanswered."""
    running.send(event_type, json.dumps({"sagaId": "broken-saga", "commandId": "broken-cmd"}))

    letter = running.wait_dead_letter("broken-saga")

    assert letter.topic == running.topic
    assert letter.event_type == event_type
    assert letter.reason.startswith("invalid ")
    assert "orderId" in letter.reason
    assert running.replies("broken-cmd") == []


def assert_unknown_type_dead_lettered(running: RunningService) -> None:
    """An event type the service does not handle goes to the dead-letter topic, unanswered."""
    running.send("mystery.command", json.dumps({"sagaId": "mystery-saga", "commandId": "m-cmd"}))

    letter = running.wait_dead_letter("mystery-saga")

    assert letter.event_type == "mystery.command"
    assert "unknown event type 'mystery.command'" in letter.reason
    assert running.replies("m-cmd") == []
