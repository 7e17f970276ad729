"""Real processes for the services' integration tests.

One service (`python -m services.<name>`, `testkit.apps`) with its own embedded sidecar on
the project's `components/`, and a recorder (`testkit.subscriber_app`, with its sidecar)
subscribed to `saga-replies` and the service's dead-letter topic. Both sidecars share one
data dir, so one pub/sub and one state database, as under the Multi-App Run runner.
Commands go in through the real `DaprClient`; replies, dead letters and state come back
through it and the recorder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dapr.clients import DaprClient

from services.contracts.messages import Command, Contract, DeadLetter
from services.contracts.names import PUBSUB, STATESTORE, AppId, EventType, Topic, dead_letter_topic
from services.contracts.topology import SUBSCRIPTIONS
from testkit.apps import app_process
from testkit.observer import SubscriberApp, data_of, sub
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ROOT, ManagedProcess
from testkit.sidecar import HOST, SidecarProcess, dapr_client, wait_connected

COMPONENTS = ROOT / "components"
RECORDER = "recorder"


@dataclass
class RunningService:
    """A started service, its recorder and a client; the test-facing verbs."""

    topic: Topic
    service: ManagedProcess
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
    app_port = free_port()
    recorder = SubscriberApp(
        root / "apps", RECORDER, [sub(Topic.SAGA_REPLIES), sub(subscription.dead_letter_topic)]
    )
    sidecars = [
        SidecarProcess(
            data_dir,
            app_id=name,
            label=name,
            extra_args=[*resources, "--app-port", str(app_port)],
        ),
        SidecarProcess(
            data_dir,
            app_id=RECORDER,
            label=RECORDER,
            extra_args=[*resources, "--app-port", str(recorder.port)],
        ),
    ]
    service = app_process(
        f"services.{name}", sidecars[0], root / f"{name}.log", app_port=app_port, env=env
    )
    try:
        for sidecar in sidecars:
            sidecar.start()
        service.start(wait=False)
        recorder.start()
        service.wait_ready()  # its sidecar delivers to it
        wait_connected(sidecars[1])
        with dapr_client(HOST, sidecars[0].grpc_port, sidecars[0].http_port) as client:
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
