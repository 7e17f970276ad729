"""`/v1.0/state/<store>`: get, save, bulk get, delete and transactions (daprd's
`pkg/api/http/http.go`).

A saved value is the JSON of the request's `value`, re-encoded as daprd stores it
(`gojson`); the `ETag` header carries a read's ETag, `If-Match` a delete's;
`metadata.<name>` query parameters are the request's metadata.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from dapr.proto.common.v1 import common_pb2
from dapr.proto.runtime.v1 import state_pb2

from sidecar.http_api import gojson
from sidecar.http_api.backends import DAPR, Backends
from sidecar.http_api.calls import Refused
from sidecar.http_api.responses import (
    BadBody,
    empty,
    error,
    json_body,
    json_list,
    malformed,
    metadata_of,
    refused,
    trace_metadata,
)

Options = common_pb2.StateOptions
_CONCURRENCY: dict[str, Any] = {
    "first-write": Options.CONCURRENCY_FIRST_WRITE,
    "last-write": Options.CONCURRENCY_LAST_WRITE,
}
_CONSISTENCY: dict[str, Any] = {
    "eventual": Options.CONSISTENCY_EVENTUAL,
    "strong": Options.CONSISTENCY_STRONG,
}


def routes(api: Backends) -> list[web.RouteDef]:
    async def get_state(request: web.Request) -> web.Response:
        store, key = request.match_info["store"], request.match_info["key"]
        query = state_pb2.GetStateRequest(
            store_name=store,
            key=key,
            consistency=_CONSISTENCY.get(request.query.get("consistency", ""), 0),
            metadata=metadata_of(request),
        )
        try:
            found = await api.call(api.runtime.GetState, query, DAPR + "GetState")
        except Refused as refusal:
            return refused(refusal)
        if not found.data and not found.etag:
            return empty()
        response = web.Response(status=200, body=found.data, content_type="application/json")
        if found.etag:
            response.headers["ETag"] = found.etag
        for name, value in found.metadata.items():
            response.headers[f"metadata.{name}"] = value
        return response

    async def save_state(request: web.Request) -> web.Response:
        store = request.match_info["store"]
        try:
            items = json_list(await request.read(), "state items")
            states = [_item(item, metadata_of(request)) for item in items]
        except BadBody as bad:
            return error(400, "ERR_MALFORMED_REQUEST", str(bad))
        if not states:
            return empty()
        save = state_pb2.SaveStateRequest(store_name=store, states=states)
        return await _done(api, api.runtime.SaveState, save, "SaveState", request)

    async def get_bulk(request: web.Request) -> web.Response:
        store = request.match_info["store"]
        try:
            body = json.loads(await request.read())
            keys = [str(key) for key in body.get("keys") or []]
        except (ValueError, AttributeError, TypeError) as bad:
            return malformed(bad)
        metadata = {**{k: str(v) for k, v in (body.get("metadata") or {}).items()}}
        metadata.update(metadata_of(request))
        query = state_pb2.GetBulkStateRequest(
            store_name=store,
            keys=keys,
            parallelism=int(body.get("parallelism") or 0),
            metadata=metadata,
        )
        try:
            found = await api.call(api.runtime.GetBulkState, query, DAPR + "GetBulkState")
        except Refused as refusal:
            return refused(refusal)
        return json_body([_bulk_item(item) for item in found.items])

    async def delete_state(request: web.Request) -> web.Response:
        store, key = request.match_info["store"], request.match_info["key"]
        delete = state_pb2.DeleteStateRequest(
            store_name=store,
            key=key,
            options=_options(
                {
                    "concurrency": request.query.get("concurrency", ""),
                    "consistency": request.query.get("consistency", ""),
                }
            ),
            metadata=metadata_of(request),
        )
        if "If-Match" in request.headers:
            delete.etag.value = request.headers["If-Match"]
        return await _done(api, api.runtime.DeleteState, delete, "DeleteState", request)

    async def transaction(request: web.Request) -> web.Response:
        store = request.match_info["store"]
        try:
            body = json.loads(await request.read())
            operations = body.get("operations") or []
            metadata = {str(k): str(v) for k, v in (body.get("metadata") or {}).items()}
            metadata.update(metadata_of(request))
            steps = [
                state_pb2.TransactionalStateOperation(
                    operationType=str(step.get("operation", "")),
                    request=_item(step.get("request") or {}, metadata_of(request), required=False),
                )
                for step in operations
            ]
        except (ValueError, AttributeError, TypeError) as bad:
            return malformed(bad)
        if not steps:
            return empty()
        execute = state_pb2.ExecuteStateTransactionRequest(
            storeName=store, operations=steps, metadata=metadata
        )
        return await _done(
            api, api.runtime.ExecuteStateTransaction, execute, "ExecuteStateTransaction", request
        )

    return [
        web.get("/v1.0/state/{store}/{key}", get_state),
        web.post("/v1.0/state/{store}/bulk", get_bulk),
        web.put("/v1.0/state/{store}/bulk", get_bulk),
        web.post("/v1.0/state/{store}/transaction", transaction),
        web.put("/v1.0/state/{store}/transaction", transaction),
        web.post("/v1.0/state/{store}", save_state),
        web.put("/v1.0/state/{store}", save_state),
        web.delete("/v1.0/state/{store}/{key}", delete_state),
    ]


async def _done(
    api: Backends, method: Any, message: Any, name: str, request: web.Request
) -> web.Response:
    try:
        await api.call(method, message, DAPR + name, trace_metadata(request))
    except Refused as refusal:
        return refused(refusal)
    return empty()


def _item(item: Any, query_metadata: dict[str, str], required: bool = True) -> common_pb2.StateItem:
    """A state item of daprd's JSON (`key`, `value`, `etag`, `metadata`, `options`); the
    query's metadata is added to the item's own."""
    if not isinstance(item, dict):
        raise BadBody("a state item must be an object")
    key = item.get("key")
    if required and not key:
        raise BadBody('"key" is a required field')
    state = common_pb2.StateItem(
        key=str(key or ""),
        metadata={
            **{str(k): str(v) for k, v in (item.get("metadata") or {}).items()},
            **query_metadata,
        },
        options=_options(item.get("options") or {}),
    )
    if item.get("value") is not None:
        state.value = _value(item["value"])
    if item.get("etag") is not None:
        state.etag.value = str(item["etag"])
    return state


def _value(value: Any) -> bytes:
    """The stored bytes of a JSON value: Go's re-encoding of it."""
    return gojson.dumps(value)


def _options(options: dict[str, Any]) -> Options:
    return Options(
        concurrency=_CONCURRENCY.get(str(options.get("concurrency", "")), 0),
        consistency=_CONSISTENCY.get(str(options.get("consistency", "")), 0),
    )


def _bulk_item(item: state_pb2.BulkStateItem) -> dict[str, Any]:
    """daprd's bulk answer: the key, the stored JSON as it is, the ETag; only the key for a
    key not found."""
    entry: dict[str, Any] = {"key": item.key}
    if item.error:
        entry["error"] = item.error
        return entry
    if item.data:
        try:
            entry["data"] = json.loads(item.data)
        except ValueError:
            entry["data"] = item.data.decode("utf-8", errors="replace")
    if item.etag:
        entry["etag"] = item.etag
    if item.metadata:
        entry["metadata"] = dict(item.metadata)
    return entry
