"""A gRPC app as Dapr's Python SDK makes one: `dapr.ext.grpc.App`, with the methods `echo`
(answers with what it received: data, content type, metadata) and `fail` (raises, so the
call fails with UNKNOWN)."""

from __future__ import annotations

import json
import os

from dapr.clients.grpc._request import InvokeMethodRequest
from dapr.clients.grpc._response import InvokeMethodResponse
from dapr.ext.grpc import App

from tests.fidelity.apps.records import record

app = App()


@app.method("echo")
def echo(request: InvokeMethodRequest) -> InvokeMethodResponse:
    seen = {
        "body": request.text(),
        "content_type": request.content_type,
        "metadata": {key: values[0] for key, values in request.metadata.items()},
    }
    record("invoke", **seen)
    response = InvokeMethodResponse(json.dumps(seen).encode(), "application/json")
    response.headers = (("x-echo", "yes"),)
    return response


@app.method("fail")
def fail(request: InvokeMethodRequest) -> InvokeMethodResponse:
    record("invoke", body=request.text())
    raise ValueError("refused by the app")


if __name__ == "__main__":
    app.run(int(os.environ["APP_PORT"]), "127.0.0.1")
