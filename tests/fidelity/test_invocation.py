"""Service invocation reaches the target app as daprd routes it: through the caller's sidecar
(`DaprClient.invoke_method` over HTTP, `/v1.0/invoke`, or the gRPC `InvokeService`) to the
target's sidecar and on to the app, over HTTP (a FastAPI app) or gRPC (`dapr.ext.grpc.App`),
with daprd's headers (`dapr-caller-app-id`, `dapr-callee-app-id`, ...; none when an app
invokes itself), its status mapping between HTTP and gRPC, and `ERR_DIRECT_INVOKE` when no
app answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from dapr.clients.grpc.client import DaprGrpcClient

from testkit.ports import free_port
from testkit.sidecar import sdk_environment
from tests.fidelity.apps import launch
from tests.fidelity.apps.records import read
from tests.fidelity.runtimes import AppRuntime, Sdk, StartApp

# The gRPC `invoke_method` is deprecated in the SDK (daprd too logs a notice): still served.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class Apps:
    web: AppRuntime  # a FastAPI app (HTTP)
    svc: AppRuntime  # a dapr.ext.grpc app (gRPC)
    caller: AppRuntime  # an app without callbacks, only calling the others
    records: Path

    def last_call(self) -> dict[str, Any]:
        return read(self.records, "invoke")[-1]


@pytest.fixture
def apps(start_app: StartApp, tmp_path: Path) -> Iterator[Apps]:
    web_port, svc_port, records = free_port(), free_port(), tmp_path / "records.jsonl"
    found = Apps(
        start_app("web", app_port=web_port, app_protocol="http"),
        start_app("svc", app_port=svc_port, app_protocol="grpc"),
        start_app("caller"),
        records,
    )
    processes = [
        launch.app("fastapi_app", "web", web_port, records),
        launch.app("grpc_app", "svc", svc_port, records),
    ]
    yield found
    for process in processes:
        process.stop()


def url(app: AppRuntime, path: str) -> str:
    return f"http://{app.host}:{app.http_port}{path}"


def grpc_client(app: AppRuntime) -> DaprGrpcClient:
    with sdk_environment(app.http_port):
        return DaprGrpcClient(app.grpc_address)


def test_the_sdk_invokes_an_http_app_of_another_app_id(apps: Apps, sdk: Sdk) -> None:
    dapr = sdk.dapr(apps.caller)
    with sdk_environment(apps.caller.http_port):  # the SDK's HTTP invocation reads it
        response = dapr.invoke_method(
            "web",
            "echo",
            data=b'{"n": 1}',
            content_type="application/json",
            http_verb="PUT",
            http_querystring=(("q", "1"),),
            metadata=(("x-custom", "v"),),
        )

    assert response.status_code == 200
    assert {k.lower(): v for k, v in response.headers.items()}["x-echo"] == ["yes"]
    seen = json.loads(response.data)
    assert (seen["method"], seen["path"], seen["query"]) == ("PUT", "/echo", "q=1")
    assert seen["body"] == '{"n": 1}'
    headers = seen["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["x-custom"] == "v"
    assert headers["dapr-caller-app-id"] == "caller"
    assert headers["dapr-callee-app-id"] == "web"
    assert headers["dapr-caller-namespace"] == "default"
    assert {"x-forwarded-for", "x-forwarded-host", "forwarded"} <= headers.keys()
    assert "dapr-api-token" not in headers


def test_an_app_invoking_itself_is_called_without_caller_headers(apps: Apps) -> None:
    response = httpx.get(url(apps.web, "/v1.0/invoke/web/method/echo"))

    assert response.status_code == 200
    headers = apps.last_call()["headers"]
    assert not {"dapr-caller-app-id", "dapr-callee-app-id", "forwarded"} & headers.keys()


def test_an_http_apps_error_reaches_an_http_caller_as_it_is_and_a_grpc_caller_as_a_code(
    apps: Apps,
) -> None:
    response = httpx.post(url(apps.caller, "/v1.0/invoke/web/method/fail"), content=b"x")

    assert (response.status_code, response.text) == (418, "teapot")
    assert response.headers["x-app"] == "fail"
    with pytest.raises(grpc.RpcError) as failed:
        grpc_client(apps.caller).invoke_method("web", "fail", data=b"x", http_verb="POST")
    assert failed.value.code() == grpc.StatusCode.UNKNOWN
    assert failed.value.details() == "I'm a teapot"


def test_grpc_invocation_of_an_http_app_carries_its_status_and_needs_a_verb(apps: Apps) -> None:
    client = grpc_client(apps.caller)
    response = client.invoke_method(
        "web", "echo", data=b"hi", content_type="text/plain", http_verb="POST"
    )

    assert response.headers["dapr-http-status"] == ["200"]
    assert response.headers["x-echo"] == ["yes"]
    assert json.loads(response.data)["body"] == "hi"
    with pytest.raises(grpc.RpcError) as failed:
        client.invoke_method("web", "echo", data=b"hi")  # no HTTP extension
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert "missing HTTP extension field" in (failed.value.details() or "")


def test_a_grpc_app_is_invoked_over_grpc_and_over_http(apps: Apps) -> None:
    response = grpc_client(apps.caller).invoke_method(
        "svc", "echo", data=b"hi", content_type="text/plain", metadata=(("x-custom", "v"),)
    )

    assert response.content_type == "application/json"
    assert response.headers["x-echo"] == ["yes"]
    seen = json.loads(response.data)
    assert (seen["body"], seen["content_type"]) == ("hi", "text/plain")
    assert seen["metadata"]["x-custom"] == "v"
    assert seen["metadata"]["dapr-caller-app-id"] == "caller"
    over_http = httpx.post(
        url(apps.caller, "/v1.0/invoke/svc/method/echo"),
        content=b"hi",
        headers={"content-type": "text/plain", "accept": "text/plain"},
    )
    assert over_http.status_code == 200
    assert over_http.headers["x-echo"] == "yes"
    metadata = json.loads(over_http.content)["metadata"]
    assert metadata["dapr-content-type"] == "text/plain"  # HTTP's own headers, renamed
    assert metadata["dapr-accept"] == "text/plain"


def test_a_grpc_apps_failure_keeps_its_code(apps: Apps) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        grpc_client(apps.caller).invoke_method("svc", "fail", data=b"x")
    assert failed.value.code() == grpc.StatusCode.UNKNOWN
    assert "refused by the app" in (failed.value.details() or "")

    response = httpx.post(url(apps.caller, "/v1.0/invoke/svc/method/fail"))
    assert response.status_code == 500
    assert response.json() == {
        "code": grpc.StatusCode.UNKNOWN.value[0],
        "message": "Exception calling application: refused by the app",
    }
    missing = httpx.post(url(apps.caller, "/v1.0/invoke/svc/method/nothing"))
    assert (missing.status_code, missing.json()["code"]) == (501, 12)


def test_an_invocation_that_reaches_no_app_is_err_direct_invoke(apps: Apps) -> None:
    response = httpx.post(url(apps.caller, "/v1.0/invoke/nobody/method/echo"))

    assert response.status_code == 500
    assert response.json()["errorCode"] == "ERR_DIRECT_INVOKE"
    assert response.json()["message"].startswith("failed to invoke, id: nobody, err: ")
    with pytest.raises(grpc.RpcError) as failed:
        grpc_client(apps.caller).invoke_method("nobody", "echo", data=b"", http_verb="GET")
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert (failed.value.details() or "").startswith("failed to invoke, id: nobody, err: ")
    no_id = httpx.get(url(apps.caller, "/v1.0/invoke/method/echo"))
    assert (no_id.status_code, no_id.json()["errorCode"]) == (404, "ERR_DIRECT_INVOKE")


def test_the_dapr_app_id_header_invokes_on_any_path(apps: Apps) -> None:
    response = httpx.get(url(apps.caller, "/echo?x=1"), headers={"dapr-app-id": "web"})

    assert response.status_code == 200
    assert (response.json()["path"], response.json()["query"]) == ("/echo", "x=1")
    assert "dapr-app-id" not in response.json()["headers"]
