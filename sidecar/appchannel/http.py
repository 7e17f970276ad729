"""The channel to an HTTP app (`--app-protocol http`): requests to `http://127.0.0.1:<app-port>`,
as daprd's HTTP app channel makes them.

- **Subscriptions**: once the app port accepts connections, `GET /dapr/subscribe` (with
  `dapr-app-id`); a 404 means none, another status or a body that is not a list of
  subscriptions is logged and means none, as daprd (`GetSubscriptionsHTTP`).
- **Delivery**: one `POST /<route>` per message, the CloudEvent as
  `application/cloudevents+json` with a `pubsubname` header. A 2xx answer acknowledges,
  unless its JSON body says `{"status": "RETRY"}` or `"DROP"` (an unknown status is
  retried); 404 drops the message; any other status or a failed call is retried (daprd's
  `postman/http`). The answer reaches the delivery loop as the `TopicEventResponse` a gRPC
  app would give, or as the gRPC error of a failed call.
- **Invocation**: the method as path, the caller's verb, query string, body and headers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import posixpath
import time
from typing import Any, TypeAlias

import aiohttp
import grpc
from dapr.proto.runtime.v1 import appcallback_pb2
from google.protobuf import json_format
from yarl import URL

from sidecar.dapr_api.auth import TOKEN_HEADER
from sidecar.invocation.messages import (
    HOP_BY_HOP,
    Invocation,
    InvocationError,
    Reply,
    go_status,
    grpc_code_of,
    to_http_headers,
)
from sidecar.metrics import SidecarMetrics
from sidecar.pubsub.envelope import CLOUDEVENT_CONTENT_TYPE, is_json_content_type
from sidecar.resources.definitions import Rule, Subscription

log = logging.getLogger("sidecar.app")

SUCCESS = appcallback_pb2.TopicEventResponse.SUCCESS
RETRY = appcallback_pb2.TopicEventResponse.RETRY
DROP = appcallback_pb2.TopicEventResponse.DROP
Answer: TypeAlias = "appcallback_pb2.TopicEventResponse.TopicEventResponseStatus.ValueType"
_ANSWERS: dict[str, Answer] = {"": SUCCESS, "SUCCESS": SUCCESS, "RETRY": RETRY, "DROP": DROP}
_METRIC_STATUS: dict[Answer, str] = {SUCCESS: "success", RETRY: "retry", DROP: "drop"}
_ENVELOPE_FIELDS = ("id", "source", "type", "specversion", "datacontenttype")


class HttpAppChannel:
    def __init__(
        self, port: int, app_id: str, token: str | None, metrics: SidecarMetrics | None = None
    ) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.app_id = app_id
        self._token = {TOKEN_HEADER: token} if token else {}
        self._metrics = metrics
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """One connection pool; bodies pass through as the app sent them (no decompression),
        with no timeout of its own: the caller's deadline applies."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)
            )
        return self._session

    @property
    def delivery(self) -> Any:
        """What pub/sub delivery calls `OnTopicEvent` on."""
        return self

    async def subscriptions(self) -> list[Subscription]:
        """`GET /dapr/subscribe`, asked again until the app accepts connections."""
        headers = {"dapr-app-id": self.app_id, "content-type": "application/json", **self._token}
        delay = 0.02
        while True:
            try:
                async with self.session.get(
                    f"{self.base}/dapr/subscribe", headers=headers
                ) as response:
                    status, body = response.status, await response.read()
                break
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        if status == 404:
            return []
        if status != 200:
            log.error("app returned http status code %s from subscription endpoint", status)
            return []
        try:
            return http_subscriptions(json.loads(body) if body.strip() else [])
        except (ValueError, TypeError, AttributeError) as error:
            log.error("error getting topics from app: %s", error)
            return []

    async def OnTopicEvent(
        self,
        request: appcallback_pb2.TopicEventRequest,
        timeout: float | None = None,  # noqa: ASYNC109 - the gRPC stub's signature
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> appcallback_pb2.TopicEventResponse:
        """Delivers one message; answers as the app's `TopicEventResponse`, or raises the
        gRPC error a failed `OnTopicEvent` would (so the delivery loop retries)."""
        started = time.perf_counter()
        headers = {**dict(metadata), "content-type": CLOUDEVENT_CONTENT_TYPE}
        headers["pubsubname"] = request.pubsub_name
        try:
            async with self.session.post(
                self._url(request.path),
                data=json.dumps(cloudevent_of(request)).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                status, body = response.status, await response.read()
        except TimeoutError as error:
            self._record(request, RETRY, started)
            raise _failure(
                grpc.StatusCode.DEADLINE_EXCEEDED, "the app did not answer in time"
            ) from error
        except (aiohttp.ClientError, OSError) as error:
            self._record(request, RETRY, started)
            raise _failure(
                grpc.StatusCode.UNAVAILABLE, f"error sending event to app: {error}"
            ) from error
        answer = _answer(request, status, body)
        self._record(request, answer, started)
        return appcallback_pb2.TopicEventResponse(status=answer)

    async def invoke(self, invocation: Invocation) -> Reply:
        """The request for one invocation; the app's answer, whatever its status. daprd
        refuses an invocation without an HTTP verb for an HTTP app."""
        if not invocation.verb:
            raise InvocationError(go_status("INVALID_ARGUMENT", "missing HTTP extension field"))
        if invocation.verb.upper() in {"NONE", "CONNECT"}:
            raise InvocationError(go_status("INVALID_ARGUMENT", "invalid HTTP verb"))
        method = posixpath.normpath(invocation.method) if invocation.method else ""
        url = self._url("" if method == "." else method)
        if invocation.query:
            url += "?" + invocation.query
        headers = to_http_headers(invocation.metadata)
        if invocation.content_type:
            headers.append(("content-type", invocation.content_type))
        headers += list(self._token.items())
        try:
            async with self.session.request(
                invocation.verb.upper(),
                URL(url, encoded=True),
                data=invocation.data or None,
                headers=headers,
                skip_auto_headers=("content-type",),
            ) as response:
                return Reply(
                    http_status=response.status,
                    # daprd passes on the app's headers but its hop-by-hop ones and the
                    # length (the body may be re-framed).
                    headers=[
                        (k, v)
                        for k, v in response.headers.items()
                        if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"
                    ],
                    content_type=response.headers.get("content-type", ""),
                    data=await response.read(),
                )
        except (aiohttp.ClientError, OSError) as error:
            raise InvocationError(f"{invocation.verb.upper()} {url}: {error}") from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _url(self, path: str) -> str:
        return self.base + (path if path.startswith("/") else "/" + path)

    def _record(
        self, request: appcallback_pb2.TopicEventRequest, answer: Answer, started: float
    ) -> None:
        if self._metrics is None:
            return
        status = _METRIC_STATUS.get(answer, "retry")
        elapsed = (time.perf_counter() - started) * 1000
        self._metrics.ingress(request, status, "success" if status == "drop" else status, elapsed)


def http_subscriptions(items: list[dict[str, Any]]) -> list[Subscription]:
    """`GET /dapr/subscribe`'s list as subscriptions: `routes.default`, else `route`, is the
    default route; one with no route at all is left out with a warning, as daprd does."""
    subscriptions = []
    for item in items:
        routes = item.get("routes") or {}
        rules = tuple(Rule(r.get("match", ""), r.get("path", "")) for r in routes.get("rules", []))
        default = routes.get("default") or item.get("route") or ""
        topic, pubsub = str(item.get("topic", "")), str(item.get("pubsubname", ""))
        if not rules and not default:
            log.warning("topic %s has an empty routes. removing from subscriptions list", topic)
            continue
        subscriptions.append(
            Subscription(
                name=f"{pubsub}-{topic}",
                pubsub=pubsub,
                topic=topic,
                rules=rules,
                default_route=default,
                dead_letter_topic=str(item.get("deadLetterTopic") or ""),
                metadata={str(k): str(v) for k, v in (item.get("metadata") or {}).items()},
                source="app (GET /dapr/subscribe)",
            )
        )
    return subscriptions


def cloudevent_of(request: appcallback_pb2.TopicEventRequest) -> dict[str, Any]:
    """The CloudEvent JSON of a delivery: its attributes and extensions, JSON data embedded,
    text as a string, anything else as `data_base64`."""
    event: dict[str, Any] = json_format.MessageToDict(request.extensions)
    event.update(
        zip(
            _ENVELOPE_FIELDS,
            (request.id, request.source, request.type, request.spec_version),
            strict=False,
        )
    )
    content_type = request.data_content_type
    if content_type:
        event["datacontenttype"] = content_type
    if is_json_content_type(content_type):
        try:
            event["data"] = json.loads(request.data) if request.data else None
        except ValueError:
            event["data"] = request.data.decode("utf-8", errors="replace")
    elif content_type.startswith("text/") or not content_type:
        event["data"] = request.data.decode("utf-8", errors="replace")
    else:
        event["data_base64"] = base64.b64encode(request.data).decode()
    return event


def _answer(request: appcallback_pb2.TopicEventRequest, status: int, body: bytes) -> Answer:
    """How daprd reads the app's answer to a delivery (`postman/http`)."""
    if 200 <= status < 300:
        try:
            document = json.loads(body)
        except ValueError:
            return SUCCESS  # an empty or non-JSON body: delivered
        answer = document.get("status", "") if isinstance(document, dict) else ""
        if not isinstance(answer, str):
            return SUCCESS  # daprd cannot read it as a status: delivered
        if answer not in _ANSWERS:
            raise _failure(
                grpc.StatusCode.UNKNOWN,
                f"unknown status returned from app while processing pub/sub event "
                f"{request.id}, status: {answer}",
            )
        if _ANSWERS[answer] == DROP:
            log.warning(
                "DROP status returned from app while processing pub/sub event %s", request.id
            )
        return _ANSWERS[answer]
    text = body.decode("utf-8", errors="replace")
    if status == 404:
        log.error(
            "non-retriable error returned from app while processing pub/sub event %s: %s. "
            "status code returned: %s",
            request.id,
            text,
            status,
        )
        return DROP
    raise _failure(
        grpc_code_of(status),
        f"retriable error returned from app while processing pub/sub event {request.id}, "
        f"topic: {request.topic}, body: {text}. status code returned: {status}",
    )


def _failure(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    """A failed delivery, as the delivery loop sees a failed `OnTopicEvent`."""
    empty = grpc.aio.Metadata()
    return grpc.aio.AioRpcError(code, empty, empty, details=details)
