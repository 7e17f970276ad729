"""A real subscriber app that records every delivery: a `dapr.ext.grpc.App` in its own process.

The pub/sub tests script its answers; the services' tests and the platform (as app
`observer`) use it to see what a downstream system sees. `testkit.observer` starts it
(`SubscriberApp`) and reads its records (`Observer`).

`python -m testkit.subscriber_app CONFIG.json`. The config chooses the topics
(with routing rules, default route and dead-letter topic) and how each handler answers:

    {"port": 50123, "events": "/tmp/x/events.jsonl", "label": "a",
     "subscriptions": [
        {"pubsub": "pubsub", "topic": "orders", "dead_letter_topic": "orders-dlt",
         "behaviour": "success",
         "rules": [{"match": "event.type == \\"order.placed\\"", "path": "placed",
                    "behaviour": "retry:2"}]}]}

Behaviours: `success`, `retry` (always RETRY), `retry:N` (RETRY the first N deliveries
of each event id, then SUCCESS), `drop`, `raise` (the handler raises, so the call fails),
`block` (never answers) and `block:N` (blocks the first N deliveries of each id).

Every received `OnTopicEvent` is appended to the events file as one JSON line, before the
handler answers, with every `TopicEventRequest` field, the extensions (the CloudEvent's
other attributes), the gRPC metadata the sidecar sent, which handler ran and the attempt.
A gRPC interceptor captures the raw request, since the SDK hands handlers a
`SubscriptionMessage` without the path.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from dapr.ext.grpc import App, Rule, SubscriptionMessage, TopicEventResponse
from dapr.proto.runtime.v1 import appcallback_pb2
from google.protobuf import json_format

ON_TOPIC_EVENT = "/dapr.proto.runtime.v1.AppCallback/OnTopicEvent"

_current = threading.local()
_write_lock = threading.Lock()
_attempts: Counter[tuple[str, str, str]] = Counter()


def request_record(request: appcallback_pb2.TopicEventRequest) -> dict[str, Any]:
    """All fields of one `TopicEventRequest`, JSON-friendly (data as base64 and as text)."""
    return {
        "id": request.id,
        "source": request.source,
        "type": request.type,
        "specversion": request.spec_version,
        "datacontenttype": request.data_content_type,
        "data_base64": base64.b64encode(request.data).decode(),
        "data_text": request.data.decode("utf-8", errors="replace"),
        "topic": request.topic,
        "pubsubname": request.pubsub_name,
        "path": request.path,
        "extensions": json_format.MessageToDict(request.extensions),
    }


class EventLog:
    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps({**record, "app": self.label, "pid": os.getpid()}) + "\n"
        with _write_lock, self.path.open("a") as file:
            file.write(line)
            file.flush()


Request = appcallback_pb2.TopicEventRequest
Serve = Callable[[Request, grpc.ServicerContext], Any]


class OnTopicEventInterceptor(grpc.ServerInterceptor):
    """Runs `around` for each `OnTopicEvent` an app serves: how a test sees the raw request
    and the answer, which the SDK hands its handlers without (no path, no status)."""

    def around(self, serve: Serve, request: Request, context: grpc.ServicerContext) -> Any:
        raise NotImplementedError

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method != ON_TOPIC_EVENT:
            return handler
        serve: Serve = handler.unary_unary
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: self.around(serve, request, context),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class RecordingInterceptor(OnTopicEventInterceptor):
    """Keeps the raw request of each `OnTopicEvent` for the handler that serves it."""

    def __init__(self, log: EventLog) -> None:
        self._log = log

    def around(self, serve: Serve, request: Request, context: grpc.ServicerContext) -> Any:
        _current.request = request
        _current.metadata = {k: str(v) for k, v in context.invocation_metadata()}
        _current.recorded = False
        try:
            return serve(request, context)
        finally:
            if not _current.recorded:  # no handler took it: the SDK found no route
                self._log.write(
                    {
                        **request_record(request),
                        "metadata": _current.metadata,
                        "handler": None,
                        "attempt": 0,
                        "outcome": "unrouted",
                    }
                )


def make_handler(
    log: EventLog, name: str, behaviour: str
) -> Callable[[SubscriptionMessage], TopicEventResponse]:
    kind, _, count_text = behaviour.partition(":")
    count = int(count_text) if count_text else None

    def handler(event: SubscriptionMessage) -> TopicEventResponse:
        request: appcallback_pb2.TopicEventRequest = _current.request
        with _write_lock:
            key = (name, request.topic, request.id)
            _attempts[key] += 1
            attempt = _attempts[key]
        first_ones = count is None or attempt <= count
        outcome = kind if first_ones else "success"
        _current.recorded = True
        log.write(
            {
                **request_record(request),
                "metadata": _current.metadata,
                "handler": name,
                "attempt": attempt,
                "outcome": outcome,
                "sdk_data": event.data(),
            }
        )
        if outcome == "block":
            threading.Event().wait()
        if outcome == "raise":
            raise RuntimeError(f"handler {name} fails on purpose")
        if outcome in {"retry", "drop", "success"}:
            return TopicEventResponse(outcome)
        raise ValueError(f"unknown behaviour '{behaviour}'")

    handler.__name__ = name
    handler.__qualname__ = name
    return handler


def build_app(config: dict[str, Any]) -> App:
    log = EventLog(Path(config["events"]), str(config.get("label", "")))
    app = App(
        thread_pool=futures.ThreadPoolExecutor(max_workers=32),
        interceptors=(RecordingInterceptor(log),),
    )
    for spec in config["subscriptions"]:
        pubsub, topic = spec["pubsub"], spec["topic"]
        rules = spec.get("rules") or []
        dead_letter = spec.get("dead_letter_topic") or None
        metadata = spec.get("metadata") or {}
        if spec.get("default", True):
            # The SDK declares a default route (the topic itself) only when told to skip
            # topic validation: needed beside rules, and for a wildcard topic, whose events
            # arrive under their concrete topic. The default handler is registered first,
            # as the SDK sets the default route only on a topic's first registration.
            wildcard = "+" in topic or "#" in topic
            app.subscribe(
                pubsub,
                topic,
                metadata=metadata,
                dead_letter_topic=dead_letter,
                disable_topic_validation=bool(rules) or wildcard,
            )(make_handler(log, spec.get("handler", "default"), spec.get("behaviour", "success")))
        for priority, rule in enumerate(rules):
            app.subscribe(
                pubsub,
                topic,
                metadata=metadata,
                dead_letter_topic=dead_letter,
                rule=Rule(rule["match"], priority),
            )(make_handler(log, rule["path"], rule.get("behaviour", "success")))
    return app


def main(argv: list[str]) -> None:
    config = json.loads(Path(argv[1]).read_text())
    build_app(config).run(int(config["port"]), listen_address="127.0.0.1")


if __name__ == "__main__":
    main(sys.argv)
