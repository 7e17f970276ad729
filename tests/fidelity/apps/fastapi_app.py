"""An HTTP app as Dapr's Python SDK makes one: FastAPI with `dapr.ext.fastapi.DaprApp`.

It subscribes to `orders` (dead letters to `orders-dead`) and `orders-dead` through
`GET /dapr/subscribe`, and answers each message as its data's `answer` says: `SUCCESS`,
`RETRY` or `DROP` as a JSON status, `404` or `500` as that HTTP status, `EMPTY` as an empty
200, `BOGUS` as an unknown status; `<answer>-ONCE` answers so the first time an event id is
seen, then SUCCESS. `/echo` (any verb) answers with what it received; `/fail` with a 418.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import uvicorn
from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fidelity.apps.records import headers_of, record

app = FastAPI()
dapr_app = DaprApp(app)
_seen: Counter[str] = Counter()


async def received(request: Request) -> dict[str, Any]:
    body = await request.body()
    return {
        "method": request.method,
        "path": request.url.path,
        "query": request.url.query,
        "headers": headers_of(request.headers),
        "body": body.decode(errors="replace"),
    }


@dapr_app.subscribe(pubsub="pubsub", topic="orders", dead_letter_topic="orders-dead")
async def orders(request: Request) -> Response:
    seen = await received(request)
    event = await request.json()
    record("event", **seen, event=event)
    _seen[event["id"]] += 1
    answer = str(event["data"]["answer"])
    if answer.endswith("-ONCE"):
        answer = answer.removesuffix("-ONCE") if _seen[event["id"]] == 1 else "SUCCESS"
    if answer in {"404", "500"}:
        return Response("refused", status_code=int(answer))
    if answer == "EMPTY":
        return Response(status_code=200)
    return JSONResponse({"status": answer})


@dapr_app.subscribe(pubsub="pubsub", topic="orders-dead")
async def dead_letters(request: Request) -> Response:
    record("event", **await received(request), event=await request.json())
    return JSONResponse({"status": "SUCCESS"})


@app.api_route("/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def echo(request: Request) -> Response:
    seen = await received(request)
    record("invoke", **seen)
    return JSONResponse(seen, headers={"x-echo": "yes"})


@app.api_route("/fail", methods=["GET", "POST"])
async def fail(request: Request) -> Response:
    record("invoke", **await received(request))
    return Response("teapot", status_code=418, headers={"x-app": "fail"}, media_type="text/plain")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["APP_PORT"]), log_level="warning")
