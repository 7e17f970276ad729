"""An HTTP app without any Dapr SDK, on aiohttp: `GET /dapr/subscribe` answers Dapr's
subscription JSON itself (routing rules on `shipments`; with `NO_SUBSCRIBE_ROUTE` set there
is no such route, so it answers 404), and every POST is a delivery, recorded and
acknowledged with an empty 200. Its declarative subscriptions come from the test's
resources."""

from __future__ import annotations

import json
import os

from aiohttp import web

from tests.fidelity.apps.records import headers_of, record

SUBSCRIPTIONS = [
    {
        "pubsubname": "pubsub",
        "topic": "shipments",
        "routes": {
            "rules": [{"match": 'event.data.speed == "express"', "path": "/shipments/express"}],
            "default": "/shipments/standard",
        },
    }
]


async def subscribe(request: web.Request) -> web.Response:
    return web.json_response(SUBSCRIPTIONS)


async def deliver(request: web.Request) -> web.Response:
    body = await request.read()
    record(
        "event",
        path=request.path,
        headers=headers_of(request.headers),
        event=json.loads(body),
    )
    return web.Response(status=200)


def main() -> None:
    app = web.Application()
    if not os.environ.get("NO_SUBSCRIBE_ROUTE"):
        app.router.add_get("/dapr/subscribe", subscribe)
    app.router.add_post("/{tail:.*}", deliver)
    web.run_app(app, host="127.0.0.1", port=int(os.environ["APP_PORT"]), print=None)


if __name__ == "__main__":
    main()
