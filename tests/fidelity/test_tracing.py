"""W3C trace context, carried as daprd carries it with no trace exporter configured (its
standalone default): the `traceparent` of a call's gRPC metadata passes unchanged into the
CloudEvent of a publish (`traceparent` and `traceid`), to the subscriber on delivery (the
event's fields and the call's `traceparent` metadata), into a streaming subscription's
event, and into a workflow and its activities. daprd starts no trace of its own: without
one, the event's trace fields are empty and the app is told the all-zero context. A
`tracestate` sent as metadata does not travel (daprd 1.18 drops it).
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import dapr.ext.workflow as wf
from dapr.clients.grpc._response import TopicEventResponse
from dapr.common.pubsub.subscription import SubscriptionMessage
from dapr.ext.workflow._durabletask.client import TaskHubGrpcClient
from opentelemetry import trace

from services.contracts.names import PUBSUB
from testkit.observer import SubscriberApp, sub
from testkit.polling import wait_until
from tests.fidelity.conftest import Subscriber
from tests.fidelity.runtimes import WAIT, AppRuntime, Sdk, StartApp, output_of, wait_subscribed

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
NO_TRACE = "00-00000000000000000000000000000000-0000000000000000-00"
TRACED = [("traceparent", TRACEPARENT), ("tracestate", "vendor=value")]


def started(start_app: StartApp, subscriber: Subscriber) -> tuple[AppRuntime, SubscriberApp]:
    app = subscriber("traced", [sub("traced")])
    runtime = start_app("traced", app_port=app.port)
    wait_subscribed(runtime, {"traced"})
    return runtime, app


def trace_of(event: dict[str, Any]) -> tuple[str, str, str, str]:
    """The event's trace fields, and the `traceparent` its delivery call carried."""
    extensions = event["extensions"]
    return (
        extensions["traceparent"],
        extensions["traceid"],
        extensions["tracestate"],
        event["metadata"]["traceparent"],
    )


def test_the_publishers_traceparent_reaches_the_subscriber(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    runtime, app = started(start_app, subscriber)
    traced = sdk.dapr(runtime, TRACED)

    traced.publish_event(
        PUBSUB, "traced", json.dumps({"n": 1}), data_content_type="application/json"
    )
    traced.publish_events(PUBSUB, "traced", ["bulk-1", "bulk-2"], data_content_type="text/plain")
    sdk.dapr(runtime).publish_event(PUBSUB, "traced", "untraced", data_content_type="text/plain")

    events = {e["data_text"]: e for e in app.wait_for(count=4)}
    for text in ('{"n":1}', "bulk-1", "bulk-2"):
        assert trace_of(events[text]) == (TRACEPARENT, TRACEPARENT, "", TRACEPARENT), text
    assert trace_of(events["untraced"]) == ("", "", "", NO_TRACE)


def test_a_cloudevents_own_trace_fields_are_kept_and_handed_on(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    runtime, app = started(start_app, subscriber)
    own = "00-11111111111111111111111111111111-2222222222222222-01"
    event = {"specversion": "1.0", "id": "own", "source": "s", "type": "t", "data": "x"}

    sdk.dapr(runtime, TRACED).publish_event(
        PUBSUB,
        "traced",
        json.dumps({**event, "traceid": own, "traceparent": own, "tracestate": "k=v"}),
        data_content_type="application/cloudevents+json",
    )
    # Without `traceid`, daprd sets both trace fields to the call's trace context.
    sdk.dapr(runtime, TRACED).publish_event(
        PUBSUB,
        "traced",
        json.dumps({**event, "id": "no-traceid", "traceparent": own}),
        data_content_type="application/cloudevents+json",
    )

    events = {e["id"]: e for e in app.wait_for(count=2)}
    assert trace_of(events["own"]) == (own, own, "k=v", own)
    assert trace_of(events["no-traceid"]) == (TRACEPARENT, TRACEPARENT, "", TRACEPARENT)


def test_cloudevent_trace_metadata_sets_the_trace_and_publish_metadata_reaches_the_app(
    start_app: StartApp, subscriber: Subscriber, sdk: Sdk
) -> None:
    runtime, app = started(start_app, subscriber)
    own = "00-33333333333333333333333333333333-4444444444444444-01"

    sdk.dapr(runtime).publish_event(
        PUBSUB,
        "traced",
        "overridden",
        data_content_type="text/plain",
        publish_metadata={"cloudevent.traceparent": own, "Region": "eu-west"},
    )

    [event] = app.wait_for()
    assert trace_of(event) == (own, own, "", own)
    assert event["metadata"]["region"] == "eu-west"  # gRPC metadata keys are lower case
    assert event["metadata"]["cloudevent.traceparent"] == own
    assert event["metadata"]["pubsubname"] == PUBSUB


def test_a_streaming_subscription_gets_the_trace_in_the_event(
    start_app: StartApp, sdk: Sdk
) -> None:
    runtime = start_app("stream-traced")
    received: list[dict[str, Any]] = []

    def handle(message: SubscriptionMessage) -> TopicEventResponse:
        received.append(message.extensions())
        return TopicEventResponse("success")

    close = sdk.dapr(runtime).subscribe_with_handler(PUBSUB, "streamed", handle)
    try:
        sdk.dapr(runtime, TRACED).publish_event(PUBSUB, "streamed", "x")
        [extensions] = wait_until(lambda: received, WAIT, what="the streamed event")
    finally:
        close()
    assert (extensions["traceparent"], extensions["traceid"]) == (TRACEPARENT, TRACEPARENT)


def test_a_workflow_and_its_activities_run_in_the_trace_that_started_it(
    app: AppRuntime, sdk: Sdk
) -> None:
    worker = sdk.worker(app)

    @worker.activity(name="trace_id")
    def trace_id(ctx: wf.WorkflowActivityContext, _: None) -> str:
        return format(trace.get_current_span().get_span_context().trace_id, "032x")

    @worker.workflow(name="traced")
    def traced(ctx: wf.DaprWorkflowContext, _: None) -> Generator[Any, Any, str]:
        seen: str = yield ctx.call_activity("trace_id")
        return seen

    worker.start()
    starter = TaskHubGrpcClient(host_address=app.grpc_address, metadata=TRACED)
    untraced = TaskHubGrpcClient(host_address=app.grpc_address)
    try:
        with_trace = starter.schedule_new_orchestration("traced")
        without = untraced.schedule_new_orchestration("traced")
    finally:
        starter.close()
        untraced.close()

    client = sdk.client(app)
    assert output_of(client, with_trace) == TRACE_ID
    assert output_of(client, without) == "0" * 32
