"""The orchestrator as it runs, with scripted stand-ins for the three command services.

One real embedded sidecar (`python -m sidecar`, resources from `components/`) serves the
orchestrator's real workflows and activities (`services.orchestrator.registration.register`
on a real `WorkflowRuntime`) and delivers pub/sub to one real `dapr.ext.grpc.App` in this
process. That app carries the orchestrator's own subscriptions (`build_app`) plus the fake
services: handlers on the command topics that record each command and answer it the way
the test scripted, by publishing the reply on `saga-replies`. So every reply travels the
production path: pub/sub -> the saga-replies subscription -> `raise_workflow_event` -> the
waiting saga. Nothing in the SDK is mocked.

The same app records `order-status` events, the orchestrator's own dead-letter inbox keeps
the dead letters (read back through it), and an interceptor records how the app answered
every delivery (SUCCESS / RETRY / DROP).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dapr.ext.workflow as wf
import grpc
import pytest
from dapr.clients import DaprClient
from dapr.ext.grpc import App, SubscriptionMessage, TopicEventResponse

from services.common.messaging import publish
from services.contracts.messages import (
    Address,
    CancelShipment,
    ChargePayment,
    Command,
    CommitInventory,
    Contract,
    CreateShipment,
    DeadLetter,
    InventoryCommitted,
    InventoryRejected,
    InventoryReleased,
    InventoryReserved,
    OrderLine,
    OrderPlaced,
    PaymentCharged,
    PaymentDeclined,
    PaymentRefunded,
    RefundPayment,
    ReleaseInventory,
    ReserveInventory,
    ShipmentCancelled,
    ShipmentCreated,
    ShipmentFailed,
)
from services.contracts.names import PUBSUB, EventType, Topic, saga_instance_id
from services.contracts.topology import (
    COMMAND_TOPICS,
    COMMANDS,
)
from services.orchestrator.dead_letters import DeadLetterEntry, DeadLetterInbox
from services.orchestrator.registration import register
from services.orchestrator.subscriptions import OrchestratorSubscriptions, build_app
from services.orchestrator.workflow_io import SagaConfig, SagaInput, SagaResult
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ROOT
from testkit.sidecar import SidecarProcess, wait_connected
from testkit.subscriber_app import OnTopicEventInterceptor, Request, Serve

WAIT = 60.0
STATUS_NAMES = {0: "SUCCESS", 1: "RETRY", 2: "DROP"}

# How a fake service answers one command: reply with success, reply with the failure
# (the step's rejection), or never reply at all.
Behaviour = Literal["ok", "reject", "silent"]


def order(order_id: str, amount_cents: int = 5_000, sku: str = "SKU-1") -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        customer_id="cust-1",
        items=[OrderLine(sku=sku, quantity=1, unit_price_cents=amount_cents)],
        currency="EUR",
        payment_token="tok_orchestratorTestCard",
        shipping_address=Address(line1="1 Main St", city="Lyon", postal_code="69001", country="FR"),
    )


# A config whose timeouts stay out of the way unless a test shortens them.
CONFIG = SagaConfig(
    approval_threshold_cents=100_000,
    step_timeout_seconds=30,
    approval_timeout_seconds=60,
    approval_reminder_seconds=None,
    compensation_attempts=3,
    compensation_timeout_seconds=10,
)


@dataclass
class Delivery:
    topic: str
    event_id: str
    event_type: str
    status: str


@dataclass
class Received:
    topic: str
    event_type: str
    data: dict[str, Any]


def _reply(command: Command, behaviour: Behaviour) -> tuple[EventType, Contract]:
    """The reply a well-behaved service would send: success, or the step's failure."""
    ids: dict[str, Any] = {
        "saga_id": command.saga_id,
        "command_id": command.command_id,
        "order_id": command.order_id,
    }
    ok = behaviour == "ok"
    order_id = command.order_id
    if isinstance(command, ReserveInventory):
        if ok:
            return EventType.INVENTORY_RESERVED, InventoryReserved.parse(
                {**ids, "reservation_id": f"res-{order_id}", "items": command.items}
            )
        unavailable = [line.sku for line in command.items]
        return EventType.INVENTORY_REJECTED, InventoryRejected.parse(
            {**ids, "reason": "out of stock", "unavailable": unavailable}
        )
    if isinstance(command, ChargePayment):
        if ok:
            return EventType.PAYMENT_CHARGED, PaymentCharged.parse(
                {**ids, "charge_id": f"ch-{order_id}", "amount_cents": command.amount_cents}
            )
        return EventType.PAYMENT_DECLINED, PaymentDeclined.parse({**ids, "reason": "card declined"})
    if isinstance(command, CreateShipment):
        if ok:
            return EventType.SHIPPING_CREATED, ShipmentCreated.parse(
                {**ids, "tracking_id": f"tr-{order_id}"}
            )
        return EventType.SHIPPING_FAILED, ShipmentFailed.parse(
            {**ids, "reason": "address unreachable"}
        )
    if isinstance(command, ReleaseInventory):
        return EventType.INVENTORY_RELEASED, InventoryReleased.parse(ids)
    if isinstance(command, CommitInventory):
        return EventType.INVENTORY_COMMITTED, InventoryCommitted.parse(ids)
    if isinstance(command, RefundPayment):
        return EventType.PAYMENT_REFUNDED, PaymentRefunded.parse(
            {**ids, "charge_id": f"ch-{order_id}"}
        )
    if isinstance(command, CancelShipment):
        return EventType.SHIPPING_CANCELLED, ShipmentCancelled.parse(ids)
    raise AssertionError(f"no reply for {type(command).__name__}")


class FakeServices:
    """Inventory, payment and shipping as scripted responders that record every command."""

    def __init__(self, dapr: DaprClient) -> None:
        self.dapr = dapr
        self.scripts: dict[str, dict[EventType, Behaviour]] = {}
        self.commands: list[Received] = []
        self.status_events: list[Received] = []
        self._status_ids: set[str] = set()
        self._lock = threading.Lock()

    def script(self, order_id: str, behaviours: dict[EventType, Behaviour]) -> None:
        """How to answer that order's commands; "ok" for any command not named."""
        self.scripts[order_id] = behaviours

    def subscribe(self, app: App) -> None:
        for topic in sorted(set(COMMAND_TOPICS.values())):
            app.subscribe(PUBSUB, str(topic))(self.on_command)
        app.subscribe(PUBSUB, str(Topic.ORDER_STATUS))(self.on_status)

    def on_command(self, event: SubscriptionMessage) -> TopicEventResponse:
        event_type = EventType(event.type())
        command = COMMANDS[event_type].parse(bytes(event.raw_data()))
        with self._lock:
            self.commands.append(Received(str(event.topic()), event_type, command.to_data()))
        behaviour = self.scripts.get(command.order_id, {}).get(event_type, "ok")
        if behaviour != "silent":
            reply_type, reply = _reply(command, behaviour)
            publish(self.dapr, Topic.SAGA_REPLIES, reply_type, reply)
        return TopicEventResponse("success")

    def on_status(self, event: SubscriptionMessage) -> TopicEventResponse:
        """Records each status event once: delivery is at-least-once, so a sidecar killed
        between delivery and ack delivers it again under the same CloudEvent id."""
        with self._lock:
            if event.id() in self._status_ids:
                return TopicEventResponse("success")
            self._status_ids.add(event.id())
            self.status_events.append(
                Received(str(event.topic()), str(event.type()), json.loads(bytes(event.raw_data())))
            )
        return TopicEventResponse("success")

    @property
    def dead_letters(self) -> list[Received]:
        """What reached the dead-letter topics, oldest first, as the orchestrator's inbox
        (`services.orchestrator.dead_letters`) kept it."""
        entries, _ = DeadLetterInbox(self.dapr).newest_first(None, 500)
        return [_as_received(entry) for entry in reversed(entries)]

    def commands_for(self, order_id: str) -> list[str]:
        with self._lock:
            return [c.event_type for c in self.commands if c.data["orderId"] == order_id]

    def command_ids_for(self, order_id: str) -> list[str]:
        with self._lock:
            return [c.data["commandId"] for c in self.commands if c.data["orderId"] == order_id]

    def statuses_for(self, order_id: str) -> list[Received]:
        with self._lock:
            return [s for s in self.status_events if s.data.get("orderId") == order_id]


def _as_received(entry: DeadLetterEntry) -> Received:
    if entry.source == "runtime":
        return Received(entry.dead_letter_topic, entry.event_type, json.loads(entry.data))
    letter = DeadLetter(
        topic=entry.topic,
        reason=entry.reason,
        event_type=entry.event_type,
        event_id=entry.event_id,
        app_id=entry.app_id or "",
        data=entry.data,
    )
    return Received(entry.dead_letter_topic, EventType.DEAD_LETTER, letter.to_data())


class DeliveryRecorder(OnTopicEventInterceptor):
    """How the app answered each `OnTopicEvent`, in order."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def around(self, serve: Serve, request: Request, context: grpc.ServicerContext) -> Any:
        try:
            response = serve(request, context)
        except Exception:
            self._add(Delivery(request.topic, request.id, request.type, "ERROR"))
            raise
        status = STATUS_NAMES.get(getattr(response, "status", 0), "SUCCESS")
        self._add(Delivery(request.topic, request.id, request.type, status))
        return response

    def _add(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def of(self, topic: str, event_id: str | None = None) -> list[Delivery]:
        with self._lock:
            return [
                d
                for d in self.deliveries
                if d.topic == topic and (event_id is None or d.event_id == event_id)
            ]


@dataclass
class Orchestrator:
    """The orchestrator on a real sidecar, with fake services; see the module docstring."""

    root: Path
    monkeypatch: pytest.MonkeyPatch
    app_port: int = field(default_factory=free_port)
    sidecar: SidecarProcess | None = None
    runtime: wf.WorkflowRuntime | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> Orchestrator:
        self.sidecar = SidecarProcess(
            data_dir=self.root / "data",
            app_id="orchestrator",
            label="orchestrator",
            extra_args=[
                "--resources-path",
                str(ROOT / "components"),
                "--app-port",
                str(self.app_port),
            ],
        ).start()
        self.monkeypatch.setenv("DAPR_GRPC_PORT", str(self.sidecar.grpc_port))
        self.monkeypatch.setenv("DAPR_HTTP_PORT", str(self.sidecar.http_port))
        self.monkeypatch.setenv("DAPR_HEALTH_TIMEOUT", "10")
        for name in ("DAPR_GRPC_ENDPOINT", "DAPR_HTTP_ENDPOINT", "DAPR_API_TOKEN"):
            self.monkeypatch.delenv(name, raising=False)
        self.dapr = DaprClient(address=self.sidecar.address)
        self._closers.append(self.dapr.close)
        self.workflows = wf.DaprWorkflowClient(host="127.0.0.1", port=str(self.sidecar.grpc_port))
        self._closers.append(self.workflows.close)
        self.start_runtime()

        self.services = FakeServices(self.dapr)
        self.deliveries = DeliveryRecorder()
        app = build_app(
            OrchestratorSubscriptions(self.workflows, self.dapr, CONFIG), (self.deliveries,)
        )
        self.services.subscribe(app)
        thread = threading.Thread(target=app.run, args=(self.app_port, "127.0.0.1"), daemon=True)
        thread.start()
        self._closers.append(app.stop)
        wait_connected(self.sidecar)
        return self

    def start_runtime(self) -> None:
        assert self.sidecar is not None
        runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(self.sidecar.grpc_port))
        register(runtime, self.dapr)
        runtime.start()
        self.runtime = runtime

    def stop_runtime(self) -> None:
        if self.runtime is not None:
            self.runtime.shutdown()
            self.runtime = None

    def close(self) -> None:
        self.stop_runtime()
        for close in reversed(self._closers):
            close()
        if self.sidecar is not None:
            self.sidecar.stop()

    # -- driving ---------------------------------------------------------------------

    def start_saga(self, placed: OrderPlaced, config: SagaConfig = CONFIG) -> str:
        """Starts `order_saga` directly through the workflow client, as the API does."""
        return self.workflows.schedule_new_workflow(
            "order_saga",
            input=SagaInput(order=placed, config=config).to_data(),
            instance_id=saga_instance_id(placed.order_id),
        )

    def finished(self, instance_id: str, timeout: float = WAIT) -> wf.WorkflowState:
        state = self.workflows.wait_for_workflow_completion(
            instance_id, timeout_in_seconds=int(timeout)
        )
        assert state is not None, f"{instance_id} vanished"
        assert state.runtime_status == wf.WorkflowStatus.COMPLETED, str(state)
        return state

    def saga_result(self, instance_id: str, timeout: float = WAIT) -> SagaResult:
        return SagaResult.parse(self.finished(instance_id, timeout).serialized_output)

    def output(self, instance_id: str, timeout: float = WAIT) -> Any:
        return json.loads(self.finished(instance_id, timeout).serialized_output)

    def custom_status(self, instance_id: str) -> dict[str, Any]:
        state = self.workflows.get_workflow_state(instance_id)
        assert state is not None
        status: dict[str, Any] = json.loads(state.serialized_custom_status or "{}")
        return status

    def publish(self, topic: Topic | str, event_type: EventType | str, body: Contract) -> None:
        publish(self.dapr, topic, event_type, body)

    def publish_raw(self, topic: str, event_type: str, data: str) -> None:
        self.dapr.publish_event(
            PUBSUB,
            topic,
            data,
            data_content_type="application/json",
            publish_metadata={"cloudevent.type": event_type},
        )

    def wait_for_status(
        self, order_id: str, event_type: EventType, count: int = 1, timeout: float = WAIT
    ) -> list[Received]:
        def probe() -> list[Received] | None:
            found = [s for s in self.services.statuses_for(order_id) if s.event_type == event_type]
            return found if len(found) >= count else None

        return wait_until(probe, timeout=timeout, what=f"{count} {event_type} for {order_id}")


@pytest.fixture
def orchestrator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Orchestrator]:
    harness = Orchestrator(tmp_path, monkeypatch)
    try:
        yield harness.start()
    finally:
        harness.close()
