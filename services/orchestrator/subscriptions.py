"""The orchestrator's pub/sub handlers: messages in, workflow calls out.

- `orders` (`order.placed`): starts `order_saga` as `order-<orderId>`, once. A duplicate
  message (an instance with that id exists, in any status) is acknowledged and starts
  nothing: the sidecar reuses the id of a *terminal* instance, so without the check a
  redelivered order would run its saga a second time.
- `saga-replies`: raises each reply into its saga as the external event named by the
  reply's `commandId`, with `reply_event(type, reply)` as data.
- `approvals` (`approval.decided`): raises `approval_decision` into `approval-<orderId>`.

Each handler runs in the span of its delivery (`services.common.spans.consuming`, in the
trace of the CloudEvent's `traceparent`), marked with the saga's id: the workflow started
or raised inside it carries that trace on (the sidecar takes it from the call's metadata).

A message that fails its contract goes to the topic's dead-letter topic with the reason
(`CommandHandling.reject`) and is acknowledged. A reply or decision for an instance that
does not exist or has finished is acknowledged and logged: retrying cannot help it. Only a
failure to reach the sidecar answers RETRY, so the message comes back later.

Which topics, which event types each handler takes and the dead-letter topics are the
topology's (`SUBSCRIPTIONS[AppId.ORCHESTRATOR]`); `build_app` registers them, and the
dead-letter inbox on every dead-letter topic (`dead_letters.py`).
"""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import dapr.ext.workflow as wf
import grpc
from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.ext.grpc import App, SubscriptionMessage

from foundation.logs import log_context
from services.common.messaging import CommandHandling, TopicHandler, subscribe
from services.common.metrics import DeadLetterReason
from services.common.spans import tag_saga
from services.contracts.messages import (
    ApprovalDecided,
    InvalidMessage,
    OrderPlaced,
    reply_event,
)
from services.contracts.names import (
    APPROVAL_DECISION_EVENT,
    AppId,
    Topic,
    WorkflowName,
    approval_instance_id,
    saga_instance_id,
)
from services.contracts.topology import (
    SUBSCRIPTIONS,
    TERMINAL_RUNTIME_STATUSES,
    parse_reply,
    subscription,
)
from services.orchestrator.dead_letters import DeadLetterInbox, subscribe_dead_letters
from services.orchestrator.workflow_io import SagaConfig, SagaInput

log = logging.getLogger("services.orchestrator.subscriptions")

SUCCESS = TopicEventResponse("success")
RETRY = TopicEventResponse("retry")

ORDERS = subscription(AppId.ORCHESTRATOR, Topic.ORDERS)
APPROVALS = subscription(AppId.ORCHESTRATOR, Topic.APPROVALS)


class OrchestratorSubscriptions:
    """The handlers, bound to the workflow client, the Dapr client (for dead letters) and
    the saga settings every new saga gets in its input."""

    def __init__(
        self,
        workflows: wf.DaprWorkflowClient,
        dapr: DaprClient,
        saga_config: SagaConfig,
        app_id: str = AppId.ORCHESTRATOR,
    ) -> None:
        self.workflows = workflows
        self.saga_config = saga_config
        self.messages = CommandHandling(dapr, app_id)

    # -- orders ------------------------------------------------------------------------

    def on_order_placed(self, event: SubscriptionMessage) -> TopicEventResponse:
        if event.type() not in ORDERS.event_types:
            return self.messages.reject(
                event,
                f"unexpected event type '{event.type()}' on topic '{ORDERS.topic}'",
                DeadLetterReason.UNKNOWN_EVENT_TYPE,
            )
        try:
            order = OrderPlaced.parse(bytes(event.raw_data()))
        except InvalidMessage as error:
            return self.messages.reject(event, error.reason)
        instance_id = saga_instance_id(order.order_id)
        tag_saga(instance_id, order.order_id)
        with log_context(saga_id=instance_id, instance_id=instance_id, event_id=event.id()):
            return self._start_saga(order, instance_id)

    def _start_saga(self, order: OrderPlaced, instance_id: str) -> TopicEventResponse:
        try:
            existing = self.workflows.get_workflow_state(instance_id, fetch_payloads=False)
            if existing is not None:
                log.info(
                    "duplicate order.placed: the saga exists, nothing started",
                    extra={"status": existing.runtime_status.name},
                )
                return SUCCESS
            self.workflows.schedule_new_workflow(
                WorkflowName.ORDER_SAGA,
                input=SagaInput(order=order, config=self.saga_config).to_data(),
                instance_id=instance_id,
            )
        except grpc.RpcError as error:
            if _code(error) == grpc.StatusCode.ALREADY_EXISTS:
                log.info("duplicate order.placed: the saga was started meanwhile")
                return SUCCESS
            log.warning(
                "saga not started; the order will be redelivered",
                extra={"error": _details(error)},
            )
            return RETRY
        log.info("saga started", extra={"amount_cents": order.amount_cents})
        return SUCCESS

    # -- replies -----------------------------------------------------------------------

    def on_saga_reply(self, event: SubscriptionMessage) -> TopicEventResponse:
        try:
            reply = parse_reply(str(event.type()), bytes(event.raw_data()))
        except InvalidMessage as error:
            return self.messages.reject(event, error.reason)
        tag_saga(reply.saga_id, reply.order_id)
        with log_context(
            saga_id=reply.saga_id,
            instance_id=reply.saga_id,
            command_id=reply.command_id,
            reply=str(event.type()),
            event_id=event.id(),
        ):
            return self._raise(
                reply.saga_id, reply.command_id, reply_event(str(event.type()), reply), "reply"
            )

    # -- approvals ---------------------------------------------------------------------

    def on_approval_decided(self, event: SubscriptionMessage) -> TopicEventResponse:
        if event.type() not in APPROVALS.event_types:
            return self.messages.reject(
                event,
                f"unexpected event type '{event.type()}' on topic '{APPROVALS.topic}'",
                DeadLetterReason.UNKNOWN_EVENT_TYPE,
            )
        try:
            decided = ApprovalDecided.parse(bytes(event.raw_data()))
        except InvalidMessage as error:
            return self.messages.reject(event, error.reason)
        instance_id = approval_instance_id(decided.order_id)
        tag_saga(saga_instance_id(decided.order_id), decided.order_id)
        with log_context(
            saga_id=saga_instance_id(decided.order_id),
            instance_id=instance_id,
            approved=decided.approved,
            approver=decided.approver,
            event_id=event.id(),
        ):
            return self._raise(instance_id, APPROVAL_DECISION_EVENT, decided.to_data(), "decision")

    # -- shared ------------------------------------------------------------------------

    def _raise(self, instance_id: str, name: str, data: Any, what: str) -> TopicEventResponse:
        """Raises `name` into a live instance; acknowledges (and logs) anything else."""
        try:
            state = self.workflows.get_workflow_state(instance_id, fetch_payloads=False)
            if state is None:
                log.warning(f"{what} for an unknown workflow acknowledged")
                return SUCCESS
            if state.runtime_status.name in TERMINAL_RUNTIME_STATUSES:
                log.info(
                    f"{what} for a finished workflow acknowledged",
                    extra={"status": state.runtime_status.name},
                )
                return SUCCESS
            self.workflows.raise_workflow_event(instance_id, name, data=data)
        except grpc.RpcError as error:
            if _code(error) == grpc.StatusCode.NOT_FOUND:  # purged since the check
                log.warning(f"{what} for an unknown workflow acknowledged")
                return SUCCESS
            log.warning(
                f"{what} not raised; it will be redelivered",
                extra={"error": _details(error)},
            )
            return RETRY
        log.info(f"{what} raised")
        return SUCCESS


def build_app(
    subscriptions: OrchestratorSubscriptions,
    interceptors: tuple[grpc.ServerInterceptor, ...] = (),
) -> App:
    """The app-callback server with the orchestrator's subscriptions from the topology, each
    on the method of its handler's name. Each topic's dead-letter topic also receives what
    the sidecar gives up on after its retries (resiliency policy)."""
    app = App(
        thread_pool=futures.ThreadPoolExecutor(max_workers=16),
        interceptors=interceptors,
    )
    handlers: dict[str, TopicHandler] = {
        name: getattr(subscriptions, name)
        for entry in SUBSCRIPTIONS[AppId.ORCHESTRATOR]
        for name in entry.handlers
    }
    subscribe(app, AppId.ORCHESTRATOR, handlers)
    subscribe_dead_letters(app, DeadLetterInbox(subscriptions.messages.client))
    return app


def _code(error: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(error, "code", None)
    return code() if callable(code) else None


def _details(error: grpc.RpcError) -> str:
    details = getattr(error, "details", None)
    return str(details() if callable(details) else error)
