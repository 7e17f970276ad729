"""`/v1.0/invoke/<app-id>/method/<method>`, and any other path with a `dapr-app-id` header
(daprd's `onDirectMessage`).

The request goes to the app as it came: verb, query string, body, content type and headers
(without the API token and `dapr-app-id`). An HTTP app's answer comes back as it is,
status, headers and body; a gRPC app's as 200 with its data, or as the HTTP status of its
gRPC code with the status as JSON. An invocation that reaches no app is a 500
`ERR_DIRECT_INVOKE`; a path naming no app id a 404.
"""

from __future__ import annotations

import base64
import json
import posixpath
from urllib.parse import unquote

from aiohttp import web
from google.protobuf import any_pb2, json_format
from google.rpc import status_pb2

from sidecar.dapr_api.auth import TOKEN_HEADER
from sidecar.http_api.backends import Backends
from sidecar.http_api.responses import error
from sidecar.invocation.messages import (
    Invocation,
    InvocationError,
    Reply,
    canonical,
    http_status_of,
    to_http_headers,
)

APP_ID_HEADER = "dapr-app-id"
PREFIX = "/v1.0/invoke/"
# What Go's server declares a body without a content type to be, when it is text.
_SNIFFED_TEXT = "text/plain; charset=utf-8"


def target_and_method(request: web.Request) -> tuple[str, str]:
    """daprd's `findTargetIDAndMethod`: the `dapr-app-id` header and the whole path, else
    the app id and method of `/v1.0/invoke/<app-id>/method/<method>`."""
    header = request.headers.get(APP_ID_HEADER, "")
    if header:
        return header, posixpath.normpath(request.path).lstrip("/")
    if not request.path.startswith(PREFIX):
        return "", ""
    rest = request.path[len(PREFIX) :]
    target, found, method = rest.partition("/method/")
    if not found or not target:
        return "", ""
    method = posixpath.normpath(method) if method else ""
    return unquote(target), "" if method == "." else method


def routes(api: Backends) -> list[web.RouteDef]:
    async def invoke(request: web.Request) -> web.StreamResponse:
        target, method = target_and_method(request)
        if not target:
            return error(
                404,
                "ERR_DIRECT_INVOKE",
                "failed getting app id either from the URL path or the header dapr-app-id",
            )
        invocation = Invocation(
            method=method,
            verb=request.method,
            query=request.query_string,
            data=await request.read(),
            content_type=request.headers.get("Content-Type", ""),
            metadata=[
                (canonical(name), value)
                for name, value in request.headers.items()
                if name.lower() not in {"host", TOKEN_HEADER, APP_ID_HEADER}
            ],
        )
        try:
            reply = await api.invoker.invoke(target, invocation)
        except InvocationError as failure:
            return error(
                500, "ERR_DIRECT_INVOKE", f"failed to invoke, id: {target}, err: {failure}"
            )
        return http_response(reply)

    return [web.route("*", PREFIX + "{tail:.*}", invoke)]


def fallback(api: Backends) -> list[web.RouteDef]:
    """daprd serves invocation on any path a `dapr-app-id` header comes with."""
    (invoke,) = routes(api)
    return [web.route("*", "/{tail:.*}", invoke.handler)]


def http_response(reply: Reply) -> web.Response:
    """An app's answer to an HTTP caller."""
    if reply.is_http:
        status, body, content_type = reply.http_status or 200, reply.data, reply.content_type
    elif reply.grpc_code == 0:
        status, body, content_type = 200, reply.data, reply.content_type
    else:
        status = http_status_of(reply.grpc_code)
        body = _status_json(reply)
        content_type = reply.content_type or _SNIFFED_TEXT
    response = web.Response(status=status, body=body)
    for name, value in to_http_headers(reply.headers):
        response.headers.add(name, value)
    if content_type:
        response.headers["Content-Type"] = content_type
    return response


def _status_json(reply: Reply) -> bytes:
    """A gRPC app's error status as protojson, as daprd writes it for an HTTP caller."""
    status = status_pb2.Status(code=reply.grpc_code, message=reply.message)
    for detail in reply.details:
        status.details.append(any_pb2.Any.FromString(base64.b64decode(detail)))
    try:
        document = json_format.MessageToDict(status)
    except TypeError:  # a detail of a type this process does not know
        document = {"code": reply.grpc_code, "message": reply.message}
    return json.dumps(document, separators=(",", ":")).encode()
