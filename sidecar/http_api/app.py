"""The HTTP API's aiohttp application: daprd's routes behind daprd's API token check.

With `DAPR_API_TOKEN` set, every route but `GET /v1.0/healthz` and `/v1.0/healthz/outbound`
needs the `dapr-api-token` header; without it daprd answers 401 with the plain text
`invalid api token` (`APITokenAuthMiddleware`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from sidecar.dapr_api.auth import TOKEN_HEADER, token_matches
from sidecar.http_api import invoke, publish, state, workflows
from sidecar.http_api.backends import Backends

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = frozenset({"/v1.0/healthz", "/v1.0/healthz/outbound"})


def application(api: Backends, max_body_bytes: int) -> web.Application:
    """Routes in daprd's order of precedence: invocation by `dapr-app-id` header takes any
    path no other route serves."""
    app = web.Application(middlewares=[_token_check(api.api_token)], client_max_size=max_body_bytes)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(status=204)

    async def metadata(_: web.Request) -> web.Response:
        return web.json_response(api.metadata())

    app.router.add_get("/v1.0/healthz", healthz)
    app.router.add_get("/v1.0/healthz/outbound", healthz)
    app.router.add_get("/v1.0/metadata", metadata)
    for group in (state.routes, publish.routes, workflows.routes, invoke.routes):
        app.router.add_routes(group(api))
    app.router.add_routes(invoke.fallback(api))
    return app


def _token_check(token: str | None) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            token
            and not (request.method == "GET" and request.path in OPEN_PATHS)
            and not token_matches(token, request.headers.get(TOKEN_HEADER))
        ):
            return web.Response(status=401, text="invalid api token\n")
        return await handler(request)

    return check
